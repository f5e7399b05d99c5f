import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML_TYPE_INFO, openGguf, type GGUFFile } from "@moeq/formats";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { referenceQuantize } from "@moeq/test-support/llama-quantize";
import { convertHfToGguf } from "./convert-hf.js";
import { FTYPE_BY_NAME } from "./ftype.js";
import { quantizeGguf } from "./quantize-gguf.js";
import { ggufNumber } from "./gguf-kv.js";
import { readImatrix } from "./imatrix.js";
import { writeImatrix } from "./test-utils/imatrix-file.js";
import { writeFileSync } from "node:fs";

// One F16 conversion shared by every file type. Dims chosen so the mixtures and fallbacks all fire:
// n_embd 256 (K-quant rows fit), expert FFN 160 (not a multiple of 256 → Q4_K→Q5_0, Q6_K→Q8_0, …), dense FFN 512.
let tmp: string;
let f16: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-q-vs-llama-"));
  const dir = join(tmp, "ckpt");
  writeSyntheticLlama4(dir, {
    layout: "maverick",
    hidden: 256,
    ffExpert: 160,
    ffDense: 512,
    layers: 4,
    experts: 4,
    heads: 4,
    kvHeads: 1,
    headDim: 64,
    seed: 3,
  });
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
    const Q8_0 = 8,
      Q5_K = 13,
      Q4_0 = 2;
    await quantizeGguf(f16, ours, {
      ftype: FTYPE_BY_NAME.Q4_K_M,
      outputTensorType: Q8_0,
      tokenEmbeddingType: Q5_K,
      tensorTypes: [{ pattern: /attn_q/, type: Q4_0 }],
    });
    referenceQuantize(f16, ref, {
      ftype: FTYPE_BY_NAME.Q4_K_M,
      outputTensorType: Q8_0,
      tokenEmbeddingType: Q5_K,
      tensorTypes: [{ pattern: "attn_q", type: Q4_0 }],
    });
    expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
    await quantizeGguf(f16, ours, { ftype: FTYPE_BY_NAME.Q3_K_M, pure: true });
    referenceQuantize(f16, ref, { ftype: FTYPE_BY_NAME.Q3_K_M, pure: true });
    expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
  });
});

/** llama-quantize with the imatrix at `path`, passing the quantize.imatrix.* keys the CLI adds. */
async function referenceWithImatrix(model: string, ref: string, ftype: number, path: string): Promise<void> {
  const im = await readImatrix(path);
  referenceQuantize(model, ref, {
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
    const dat = Buffer.concat([
      Buffer.from(new Int32Array([1]).buffer),
      Buffer.from(new Int32Array([name.length]).buffer),
      name,
      Buffer.from(new Int32Array([2, 3]).buffer),
      Buffer.from(vals.buffer),
    ]);
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
      await referenceWithImatrix(f16, ref, ftype, path);
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

// The i-quant, ternary and MXFP4 file types: mixtures (attn_v/attn_k/ffn_down bumps, token_embd and output rules,
// imatrix-only rules) and the 256→IQ4_NL fallback. A smaller model of its own: 8 layers so the n_layer/8 rules
// fire, expert FFN 32 and attention width 128 (not multiples of 256 → IQ4_NL), n_gqa 2 and 2 experts so the
// low-bit attn_v rule keeps its Q2_K/IQ3_S choice.
describe("i-quant, ternary and MXFP4 file types == llama_model_quantize", () => {
  let small: string;
  let imatrixPath: string;
  beforeAll(async () => {
    const dir = join(tmp, "ckpt-iq");
    writeSyntheticLlama4(dir, {
      layout: "scout",
      hidden: 256,
      ffExpert: 32,
      layers: 8,
      experts: 2,
      heads: 4,
      kvHeads: 2,
      headDim: 32,
      multimodal: false,
      seed: 5,
    });
    small = join(tmp, "f16-iq.gguf");
    await convertHfToGguf(dir, small, { outtype: FTYPE_BY_NAME.F16 });
    imatrixPath = join(tmp, "imatrix-iq.gguf");
    await writeImatrix(small, imatrixPath);
  });

  const WITH_IMATRIX = ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ4_XS", "Q2_K_S"];
  for (const name of WITH_IMATRIX) {
    it(`${name} with --imatrix`, async () => {
      const ftype = FTYPE_BY_NAME[name];
      const ours = join(tmp, `ours-im-${name}.gguf`);
      const ref = join(tmp, `ref-im-${name}.gguf`);
      await quantizeGguf(small, ours, { ftype, imatrixPath });
      await referenceWithImatrix(small, ref, ftype, imatrixPath);
      expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
    });
  }

  const WITHOUT_IMATRIX = ["IQ4_NL", "IQ4_XS", "IQ3_S", "IQ3_M", "TQ1_0", "TQ2_0", "MXFP4_MOE"];
  for (const name of WITHOUT_IMATRIX) {
    it(`${name} without an imatrix`, async () => {
      const ftype = FTYPE_BY_NAME[name];
      const ours = join(tmp, `ours-${name}.gguf`);
      const ref = join(tmp, `ref-${name}.gguf`);
      await quantizeGguf(small, ours, { ftype });
      referenceQuantize(small, ref, { ftype, nthread: 2 });
      expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : await describeDifference(ours, ref)).toBe("identical");
      if (name === "MXFP4_MOE") {
        const g = await openGguf(ours);
        const types = new Map(g.tensors.map((t) => [t.name, GGML_TYPE_INFO[t.type].name]));
        await g.close();
        expect(types.get("blk.1.ffn_up_exps.weight")).toBe("mxfp4");
        expect(types.get("blk.1.attn_q.weight")).toBe("q8_0");
      }
    });
  }

  it("refuses the types that need an imatrix without one, as llama-quantize does, writing nothing", async () => {
    for (const name of ["IQ1_S", "IQ2_XXS", "IQ3_XS", "Q2_K_S"]) {
      const out = join(tmp, `refused-${name}.gguf`);
      await expect(quantizeGguf(small, out, { ftype: FTYPE_BY_NAME[name] })).rejects.toThrow(
        /this quantization requires an imatrix! \(offending tensor: blk\.0\./,
      );
      expect(existsSync(out)).toBe(false);
    }
  });
});
