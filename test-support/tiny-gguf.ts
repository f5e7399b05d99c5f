// Tiny GGUF files for tests, built with the project's own GGUFWriter (no hand-rolled GGUF bytes):
// `tinyGguf` (string metadata, no tensors: enough for card and metadata tests) and `writeTinyLlamaGguf`
// (a random "llama"-architecture model with a SentencePiece byte-fallback vocabulary that llama.cpp loads, so the
// llama.cpp engine can be tested hermetically). Test-only.
import { writeFileSync } from "node:fs";
import { GGMLType, GGUFValueType, GGUFWriter, ggufPad, seededRandom } from "@moeq/formats";

/** A GGUF v3 file with string metadata and no tensors, zero-padded to `padTo` bytes. */
export function tinyGguf(kv: Record<string, string>, padTo = 0): Buffer {
  const w = new GGUFWriter("tiny.gguf");
  for (const [k, v] of Object.entries(kv)) w.setString(k, v);
  const body = Buffer.from(w.buildHeader());
  return body.length >= padTo ? body : Buffer.concat([body, Buffer.alloc(padTo - body.length)]);
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

  const w = new GGUFWriter(path);
  w.setString("general.architecture", "llama");
  w.setString("general.name", `tiny-llama-${o.seed ?? 1}${o.noise ? `-noise${o.noise}` : ""}`);
  w.setUint32("general.alignment", w.alignment);
  w.setUint32("llama.context_length", o.nCtx ?? 512);
  w.setUint32("llama.embedding_length", nEmbd);
  w.setUint32("llama.block_count", nLayer);
  w.setUint32("llama.feed_forward_length", nFf);
  w.setUint32("llama.attention.head_count", nHead);
  w.setUint32("llama.attention.head_count_kv", nHeadKv);
  w.setFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5);
  w.setUint32("llama.rope.dimension_count", headDim);
  w.setUint32("llama.vocab_size", nVocab);
  w.setString("tokenizer.ggml.model", "llama");
  w.setArray("tokenizer.ggml.tokens", GGUFValueType.STRING, vocab.tokens);
  w.setArray("tokenizer.ggml.scores", GGUFValueType.FLOAT32, vocab.scores);
  w.setArray("tokenizer.ggml.token_type", GGUFValueType.INT32, vocab.types);
  w.setUint32("tokenizer.ggml.bos_token_id", 1);
  w.setUint32("tokenizer.ggml.eos_token_id", 2);
  w.setUint32("tokenizer.ggml.unknown_token_id", 0);
  w.setBool("tokenizer.ggml.add_bos_token", true);
  w.setBool("tokenizer.ggml.add_eos_token", false);
  for (const t of tensors) w.addTensor(t.name, t.ne, GGMLType.F32);

  // Small enough to assemble in memory and write synchronously: header, then each tensor padded to the alignment.
  const parts: Buffer[] = [Buffer.from(w.buildHeader())];
  for (const t of tensors) {
    parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    parts.push(Buffer.alloc(ggufPad(t.data.byteLength, w.alignment) - t.data.byteLength));
  }
  writeFileSync(path, Buffer.concat(parts));
  return { nVocab };
}
