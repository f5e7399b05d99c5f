import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML_TYPE_INFO } from "@moeq/formats";
import { writeSyntheticLlama4 } from "../../../test-support/synthetic-llama4.js";
import { referenceQuantize } from "../../../test-support/llama-quantize.js";
import { convertHfToGguf } from "./convert-hf.js";
import { FTYPE_BY_NAME } from "./ftype.js";
import { quantizeGguf } from "./quantize-gguf.js";
import { GGUFFile } from "./internal/gguf-io.js";

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

/** Names the first difference between two GGUF files: tensor list/order, types, KVs, or data. */
function describeDifference(ours: string, ref: string): string {
  const a = GGUFFile.open(ours);
  const b = GGUFFile.open(ref);
  try {
    const an = a.tensors.map((t) => `${t.name}:${GGML_TYPE_INFO[t.type].name}`);
    const bn = b.tensors.map((t) => `${t.name}:${GGML_TYPE_INFO[t.type].name}`);
    for (let i = 0; i < Math.max(an.length, bn.length); i++) if (an[i] !== bn[i]) return `tensor #${i}: ours ${an[i]} vs llama ${bn[i]}`;
    const ak = [...a.kvs.keys()].join(",");
    const bk = [...b.kvs.keys()].join(",");
    if (ak !== bk) return `KV order: ours ${ak} vs llama ${bk}`;
    for (const t of a.tensors) {
      const u = b.tensor(t.name)!;
      if (!a.read(t).equals(b.read(u))) return `data of ${t.name} (${GGML_TYPE_INFO[t.type].name}) differs`;
    }
    return "header bytes differ";
  } finally {
    a.close();
    b.close();
  }
}

const FTYPES = ["F32", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"];

describe("moeq quantize == llama_model_quantize, byte for byte", () => {
  for (const name of FTYPES) {
    it(`${name}`, async () => {
      const ftype = FTYPE_BY_NAME[name];
      const ours = join(tmp, `ours-${name}.gguf`);
      const ref = join(tmp, `ref-${name}.gguf`);
      await quantizeGguf(f16, ours, { ftype });
      referenceQuantize(f16, ref, { ftype, nthread: 2 });
      const same = readFileSync(ours).equals(readFileSync(ref));
      expect(same ? "identical" : describeDifference(ours, ref)).toBe("identical");
      if (name === "Q4_K_M") {
        // the mixture and the 256-divisibility fallbacks really fired (not a uniform file)
        const g = GGUFFile.open(ours);
        const types = new Map(g.tensors.map((t) => [t.name, GGML_TYPE_INFO[t.type].name]));
        g.close();
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
    expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : describeDifference(ours, ref)).toBe("identical");
    await quantizeGguf(f16, ours, { ftype: FTYPE_BY_NAME.Q3_K_M, pure: true });
    referenceQuantize(f16, ref, { ftype: FTYPE_BY_NAME.Q3_K_M, pure: true });
    expect(readFileSync(ours).equals(readFileSync(ref)) ? "identical" : describeDifference(ours, ref)).toBe("identical");
  });
});
