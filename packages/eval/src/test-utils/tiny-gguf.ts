// Writes a tiny, random "llama"-architecture GGUF (f32, SentencePiece byte-fallback vocabulary) that
// llama.cpp loads, so the llama.cpp engine can be tested hermetically. Test-only.
import { writeFileSync } from "node:fs";
import { seededRandom } from "@moeq/formats";

type KV = [key: string, type: "u32" | "i32" | "f32" | "bool" | "str" | "str[]" | "f32[]" | "i32[]", value: unknown];

const T = { u32: 4, i32: 5, f32: 6, bool: 7, str: 8, arr: 9 } as const;

class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  pad(align: number): void {
    const n = (align - (this.length % align)) % align;
    if (n) this.push(Buffer.alloc(n));
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface TinyLlamaOptions {
  seed?: number;
  /** Relative noise added to every weight (a stand-in for quantization error). */
  noise?: number;
  nEmbd?: number;
  nLayer?: number;
  nCtx?: number;
}

/** SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, "▁", letters, "▁"+letter, a few words. */
export function tinyVocab(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6);
  }
  const letters = "abcdefghijklmnopqrstuvwxyz.,";
  const words = ["▁", ...letters, ...Array.from(letters, (c) => "▁" + c), "▁the", "▁cat", "▁sat", "▁on", "▁mat", "▁dog", "▁ran", "at", "an", "he"];
  for (const w of words) {
    tokens.push(w);
    types.push(1);
  }
  const scores = tokens.map((t, i) => (types[i] === 1 ? -i / 100 + (t.length > 2 ? 1 : 0) : 0));
  return { tokens, scores, types };
}

export function writeTinyLlamaGguf(path: string, o: TinyLlamaOptions = {}): { nVocab: number } {
  const nEmbd = o.nEmbd ?? 64;
  const nHead = 4;
  const nHeadKv = 2;
  const nFf = 2 * nEmbd;
  const nLayer = o.nLayer ?? 2;
  const headDim = nEmbd / nHead;
  const vocab = tinyVocab();
  const nVocab = vocab.tokens.length;
  const rnd = seededRandom(o.seed ?? 1);
  const nz = seededRandom(1000 + (o.seed ?? 1));
  const gauss = (r: () => number) => r() + r() + r() - 1.5;

  const tensors: { name: string; ne: number[]; data: Float32Array }[] = [];
  const add = (name: string, ne: number[], scale: number, ones = false) => {
    const n = ne.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const w = ones ? 1 : scale * gauss(rnd);
      data[i] = w + (o.noise ? o.noise * Math.abs(ones ? 0.1 : scale) * gauss(nz) : 0);
    }
    tensors.push({ name, ne, data });
  };
  add("token_embd.weight", [nEmbd, nVocab], 1);
  add("output_norm.weight", [nEmbd], 0, true);
  add("output.weight", [nEmbd, nVocab], 0.15);
  for (let l = 0; l < nLayer; l++) {
    add(`blk.${l}.attn_norm.weight`, [nEmbd], 0, true);
    add(`blk.${l}.attn_q.weight`, [nEmbd, nEmbd], 0.3);
    add(`blk.${l}.attn_k.weight`, [nEmbd, headDim * nHeadKv], 0.3);
    add(`blk.${l}.attn_v.weight`, [nEmbd, headDim * nHeadKv], 0.3);
    add(`blk.${l}.attn_output.weight`, [nEmbd, nEmbd], 0.3);
    add(`blk.${l}.ffn_norm.weight`, [nEmbd], 0, true);
    add(`blk.${l}.ffn_gate.weight`, [nEmbd, nFf], 0.3);
    add(`blk.${l}.ffn_up.weight`, [nEmbd, nFf], 0.3);
    add(`blk.${l}.ffn_down.weight`, [nFf, nEmbd], 0.3);
  }

  const kvs: KV[] = [
    ["general.architecture", "str", "llama"],
    ["general.name", "str", `tiny-llama-${o.seed ?? 1}${o.noise ? `-noise${o.noise}` : ""}`],
    ["general.alignment", "u32", 32],
    ["llama.context_length", "u32", o.nCtx ?? 512],
    ["llama.embedding_length", "u32", nEmbd],
    ["llama.block_count", "u32", nLayer],
    ["llama.feed_forward_length", "u32", nFf],
    ["llama.attention.head_count", "u32", nHead],
    ["llama.attention.head_count_kv", "u32", nHeadKv],
    ["llama.attention.layer_norm_rms_epsilon", "f32", 1e-5],
    ["llama.rope.dimension_count", "u32", headDim],
    ["llama.vocab_size", "u32", nVocab],
    ["tokenizer.ggml.model", "str", "llama"],
    ["tokenizer.ggml.tokens", "str[]", vocab.tokens],
    ["tokenizer.ggml.scores", "f32[]", vocab.scores],
    ["tokenizer.ggml.token_type", "i32[]", vocab.types],
    ["tokenizer.ggml.bos_token_id", "u32", 1],
    ["tokenizer.ggml.eos_token_id", "u32", 2],
    ["tokenizer.ggml.unknown_token_id", "u32", 0],
    ["tokenizer.ggml.add_bos_token", "bool", true],
    ["tokenizer.ggml.add_eos_token", "bool", false],
  ];

  const b = new Bytes();
  b.push(Buffer.from("GGUF", "latin1"));
  b.u32(3);
  b.u64(tensors.length);
  b.u64(kvs.length);
  for (const [key, type, value] of kvs) {
    b.str(key);
    switch (type) {
      case "u32":
        b.u32(T.u32);
        b.u32(value as number);
        break;
      case "i32":
        b.u32(T.i32);
        b.i32(value as number);
        break;
      case "f32":
        b.u32(T.f32);
        b.f32(value as number);
        break;
      case "bool":
        b.u32(T.bool);
        b.push(Buffer.from([value ? 1 : 0]));
        break;
      case "str":
        b.u32(T.str);
        b.str(value as string);
        break;
      case "str[]":
        b.u32(T.arr);
        b.u32(T.str);
        b.u64((value as string[]).length);
        for (const s of value as string[]) b.str(s);
        break;
      case "f32[]":
        b.u32(T.arr);
        b.u32(T.f32);
        b.u64((value as number[]).length);
        for (const v of value as number[]) b.f32(v);
        break;
      case "i32[]":
        b.u32(T.arr);
        b.u32(T.i32);
        b.u64((value as number[]).length);
        for (const v of value as number[]) b.i32(v);
        break;
    }
  }
  let offset = 0;
  for (const t of tensors) {
    b.str(t.name);
    b.u32(t.ne.length);
    for (const d of t.ne) b.u64(d);
    b.u32(0); // GGML_TYPE_F32
    b.u64(offset);
    offset += Math.ceil(t.data.byteLength / 32) * 32;
  }
  b.pad(32);
  for (const t of tensors) {
    b.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    b.pad(32);
  }
  writeFileSync(path, b.concat());
  return { nVocab };
}
