import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML_TYPE_INFO, GGUFValueType, GGUFWriter, openGguf, ggmlNDimsShape, seededRandom, type GGUFFile } from "@moeq/formats";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { referenceQuantize } from "@moeq/test-support/llama-quantize";
import { convertHfToGguf } from "./convert-hf.js";
import { FTYPE_BY_NAME } from "./ftype.js";
import { quantizeGguf } from "./quantize-gguf.js";
import { ggufNumber, kvArr, kvStr, kvU32 } from "./gguf-kv.js";
import { readImatrix } from "./imatrix.js";
import { GGMLType } from "@moeq/formats";
import { writeFileSync } from "node:fs";

// One F16 conversion shared by every file type. Dims chosen so the mixtures and fallbacks all fire:
// n_embd 256 (K-quant rows fit), expert FFN 160 (not a multiple of 256 → Q4_K→Q5_0, Q6_K→Q8_0, …), dense FFN 512.
let tmp: string;
let f16: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-q-vs-llama-"));
  const dir = join(tmp, "ckpt");
  writeSyntheticLlama4(dir, { layout: "maverick", hidden: 256, ffExpert: 160, ffDense: 512, layers: 4, experts: 4, heads: 4, kvHeads: 1, headDim: 64, seed: 3 });
  f16 = join(tmp, "f16.gguf");
  await convertHfToGguf(dir, f16, { outtype: FTYPE_BY_NAME.F16 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function sameBytes(a: GGUFFile, an: string, b: GGUFFile, bn: string): Promise<boolean> {
  return Buffer.from(await a.readTensorBytes(an)).equals(await b.readTensorBytes(bn));
}

/** Names the first difference between two GGUF files: tensor list/order, types, KVs, or data. */
async function describeDifference(ours: string, ref: string): Promise<string> {
  const a = await openGguf(ours);
  const b = await openGguf(ref);
  try {
    const an = a.tensors.map((t) => `${t.name}:${GGML_TYPE_INFO[t.type].name}`);
    const bn = b.tensors.map((t) => `${t.name}:${GGML_TYPE_INFO[t.type].name}`);
    for (let i = 0; i < Math.max(an.length, bn.length); i++) if (an[i] !== bn[i]) return `tensor #${i}: ours ${an[i]} vs llama ${bn[i]}`;
    const ak = [...a.metadata.keys()].join(",");
    const bk = [...b.metadata.keys()].join(",");
    if (ak !== bk) return `KV order: ours ${ak} vs llama ${bk}`;
    for (const t of a.tensors) {
      const u = b.tensor(t.name)!;
      if (!(await sameBytes(a, t.name, b, u.name))) return `data of ${t.name} (${GGML_TYPE_INFO[t.type].name}) differs`;
    }
    return "header bytes differ";
  } finally {
    await a.close();
    await b.close();
  }
}

// Every file type is compared on the trained fixture (fixture-llama-cpp.test.ts); here the K mixtures, whose
// 256-divisibility fallbacks only this checkpoint's 160-wide expert rows trigger.
// Q2_K: Q2_K/Q3_K→Q4_0; Q3_K_M: Q4_K/Q5_K bumps; Q4_K_M: Q4_K→Q5_0 and Q6_K→Q8_0; Q5_K_S: Q5_K→Q5_1.
const FTYPES = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_S"];

describe("moeq quantize == llama_model_quantize, byte for byte", () => {
  for (const name of FTYPES) {
    it(`${name}`, async () => {
      const ftype = FTYPE_BY_NAME[name];
      const ours = join(tmp, `ours-${name}.gguf`);
      const ref = join(tmp, `ref-${name}.gguf`);
      await quantizeGguf(f16, ours, { ftype });
      referenceQuantize(f16, ref, { ftype, nthread: 2 });
      const same = readFileSync(ours).equals(readFileSync(ref));
      expect(same ? "identical" : await describeDifference(ours, ref)).toBe("identical");
      if (name === "Q4_K_M") {
        // the mixture and the 256-divisibility fallbacks really fired (not a uniform file)
        const g = await openGguf(ours);
        const types = new Map(g.tensors.map((t) => [t.name, GGML_TYPE_INFO[t.type].name]));
        await g.close();
        expect(types.get("output.weight")).toBe("q6_K");
        expect(types.get("blk.2.attn_v.weight")).toBe("q6_K"); // use_more_bits(2, 4)
        expect(types.get("blk.0.attn_v.weight")).toBe("q4_K");
        expect(types.get("blk.1.ffn_down_exps.weight")).toBe("q5_0");
        expect(types.get("blk.3.ffn_down_exps.weight")).toBe("q8_0");
        expect(types.get("blk.1.ffn_gate_inp.weight")).toBe("f32");
      }
    });
  }

  it("--pure, --output-tensor-type, --token-embedding-type and --tensor-type overrides match too", async () => {
    const ours = join(tmp, "ours-opts.gguf");
    const ref = join(tmp, "ref-opts.gguf");
    const Q8_0 = 8, Q5_K = 13, Q4_0 = 2;
    await quantizeGguf(f16, ours, { ftype: FTYPE_BY_NAME.Q4_K_M, outputTensorType: Q8_0, tokenEmbeddingType: Q5_K, tensorTypes: [{ pattern: /attn_q/, type: Q4_0 }] });
    referenceQuantize(f16, ref, { ftype: FTYPE_BY_NAME.Q4_K_M, outputTensorType: Q8_0, tokenEmbeddingType: Q5_K, tensorTypes: [{ pattern: "attn_q", type: Q4_0 }] });
    expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
    await quantizeGguf(f16, ours, { ftype: FTYPE_BY_NAME.Q3_K_M, pure: true });
    referenceQuantize(f16, ref, { ftype: FTYPE_BY_NAME.Q3_K_M, pure: true });
    expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
  });
});

/** Writes a GGUF imatrix (llama-imatrix's format) with random sums for every ≥2-D weight of `model`; one expert gets no tokens. */
async function writeImatrix(model: string, path: string): Promise<Map<string, { sums: Float32Array; counts: Float32Array }>> {
  const g = await openGguf(model);
  const entries = new Map<string, { sums: Float32Array; counts: Float32Array }>();
  const rnd = seededRandom(12345);
  for (const t of g.tensors) {
    if (t.shape.length < 2 || t.name.includes("_norm") || t.name.includes("ffn_gate_inp") || t.name === "token_embd.weight") continue;
    const nMat = t.shape.length >= 3 ? t.shape[2] : 1;
    const counts = new Float32Array(nMat).map((_, e) => (e === 1 && nMat > 1 ? 0 : 10 + Math.floor(rnd() * 500)));
    const sums = new Float32Array(t.shape[0] * nMat).map((_, i) => counts[Math.floor(i / t.shape[0])] * (0.01 + rnd() * 3));
    entries.set(t.name, { sums, counts });
  }
  await g.close();
  const names = [...entries.keys()].sort();
  const w = new GGUFWriter(path);
  w.setKV("general.type", kvStr("imatrix"));
  w.setKV("imatrix.datasets", kvArr(GGUFValueType.STRING, ["brown-validation.txt"]));
  w.setKV("imatrix.chunk_count", kvU32(7));
  w.setKV("imatrix.chunk_size", kvU32(512));
  for (const n of names) {
    const e = entries.get(n)!;
    const nMat = e.counts.length;
    // llama-imatrix's C writer stores ggml_n_dims dims
    w.addTensor(`${n}.in_sum2`, ggmlNDimsShape([e.sums.length / nMat, nMat]), GGMLType.F32);
    w.addTensor(`${n}.counts`, ggmlNDimsShape([1, nMat]), GGMLType.F32);
  }
  await w.writeHeader();
  for (const n of names) {
    const e = entries.get(n)!;
    await w.writeTensorData(`${n}.in_sum2`, new Uint8Array(e.sums.buffer));
    await w.writeTensorData(`${n}.counts`, new Uint8Array(e.counts.buffer));
  }
  await w.finish();
  return entries;
}

describe("imatrix", () => {
  it("GGUF imatrix: per-expert mean(x²), 1 for experts without tokens; legacy .dat divides by ncall", async () => {
    const path = join(tmp, "imatrix.gguf");
    const raw = await writeImatrix(f16, path);
    const im = await readImatrix(path);
    expect(im.datasets).toEqual(["brown-validation.txt"]);
    expect(im.chunkCount).toBe(7);
    const e = raw.get("blk.1.ffn_down_exps.weight")!;
    const v = im.entries.get("blk.1.ffn_down_exps.weight")!;
    const ne0 = e.sums.length / e.counts.length;
    expect(v[5]).toBe(Math.fround(e.sums[5] / e.counts[0]));
    expect(v[ne0 + 3]).toBe(1); // expert 1 saw no tokens
    expect(v[2 * ne0 + 7]).toBe(Math.fround(e.sums[2 * ne0 + 7] / e.counts[2]));
    // legacy: int32 n, then per entry name, ncall, nval, values × ncall
    const vals = new Float32Array([2, 4, 6]);
    const name = Buffer.from("blk.0.attn_q.weight");
    const dat = Buffer.concat([Buffer.from(new Int32Array([1]).buffer), Buffer.from(new Int32Array([name.length]).buffer), name, Buffer.from(new Int32Array([2, 3]).buffer), Buffer.from(vals.buffer)]);
    writeFileSync(join(tmp, "legacy.dat"), dat);
    expect([...(await readImatrix(join(tmp, "legacy.dat"))).entries.get("blk.0.attn_q.weight")!]).toEqual([1, 2, 3]);
  });

  for (const name of ["Q4_0", "Q4_K_M", "Q2_K"]) {
    it(`${name} with --imatrix == llama-quantize --imatrix (per-expert slices, imatrix-only bumps, quantize.imatrix.* keys)`, async () => {
      const path = join(tmp, "imatrix.gguf");
      await writeImatrix(f16, path);
      const ftype = FTYPE_BY_NAME[name];
      const ours = join(tmp, `ours-im-${name}.gguf`);
      const ref = join(tmp, `ref-im-${name}.gguf`);
      await quantizeGguf(f16, ours, { ftype, imatrixPath: path });
      const im = await readImatrix(path);
      referenceQuantize(f16, ref, {
        ftype,
        nthread: 2,
        imatrix: im.entries,
        kvOverrides: [
          { key: "quantize.imatrix.file", value: path },
          { key: "quantize.imatrix.dataset", value: "brown-validation.txt" },
          { key: "quantize.imatrix.entries_count", value: im.entries.size },
          { key: "quantize.imatrix.chunks_count", value: 7 },
        ],
      });
      expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
      if (name === "Q4_0") {
        // the imatrix really steered the search: the same tensor without it has other bytes
        const plain = join(tmp, "ours-noim-Q4_0.gguf");
        await quantizeGguf(f16, plain, { ftype });
        const a = await openGguf(ours);
        const b = await openGguf(plain);
        const t = "blk.1.ffn_down_exps.weight";
        expect(await sameBytes(a, t, b, t)).toBe(false);
        expect(ggufNumber(a, "quantize.imatrix.entries_count")).toBe(im.entries.size);
        await a.close();
        await b.close();
      }
    });
  }
});
