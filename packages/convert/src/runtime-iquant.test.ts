// The runtime on a GGUF that holds every i-quant, ternary and fp4 type at once (one type per tensor group through
// --tensor-type overrides): each weight row decodes to exactly what ggml's dequantize_row_* gives for the stored
// bytes, and the forward pass runs on it. Lives in @moeq/convert because it needs the converter and the quantizer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGMLType, GGML_TYPE_INFO, openGguf } from "@moeq/formats";
import { decodeRow, loadModel, openGgufFile, WeightStore } from "@moeq/runtime";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { ggmlDequantize } from "@moeq/test-support/ggml-quants";
import { convertHfToGguf } from "./convert-hf.js";
import { FTYPE_BY_NAME } from "./ftype.js";
import { quantizeGguf } from "./quantize-gguf.js";
import { writeImatrix } from "./test-utils/imatrix-file.js";

/** Tensor-name pattern → type: each new type on some 256-wide weight of the two-layer model (first match wins). */
const PLACEMENT: ReadonlyArray<readonly [RegExp, GGMLType]> = [
  [/blk\.0\.attn_q\./, GGMLType.IQ1_S],
  [/blk\.0\.attn_k\./, GGMLType.IQ1_M],
  [/blk\.0\.attn_v\./, GGMLType.IQ2_XXS],
  [/blk\.0\.attn_output\./, GGMLType.IQ2_XS],
  [/blk\.0\.ffn_gate_exps\./, GGMLType.IQ2_S],
  [/blk\.0\.ffn_up_exps\./, GGMLType.IQ3_XXS],
  [/blk\.0\.ffn_down_exps\./, GGMLType.IQ3_S],
  [/blk\.1\.attn_q\./, GGMLType.IQ4_NL],
  [/blk\.1\.attn_k\./, GGMLType.TQ1_0],
  [/blk\.1\.attn_v\./, GGMLType.TQ2_0],
  [/blk\.1\.attn_output\./, GGMLType.MXFP4],
  [/blk\.1\.ffn_gate_exps\./, GGMLType.NVFP4],
];

let dir: string;
let mixed: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "moeq-runtime-iq-"));
  const ckpt = join(dir, "hf");
  writeSyntheticLlama4(ckpt, {
    layout: "scout",
    hidden: 256,
    ffExpert: 256,
    layers: 2,
    experts: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 64,
    multimodal: false,
    seed: 9,
  });
  const f16 = join(dir, "f16.gguf");
  await convertHfToGguf(ckpt, f16, { outtype: FTYPE_BY_NAME.F16 });
  const imatrixPath = join(dir, "imatrix.gguf");
  await writeImatrix(f16, imatrixPath);
  mixed = join(dir, "mixed.gguf");
  await quantizeGguf(f16, mixed, {
    ftype: FTYPE_BY_NAME.IQ4_XS,
    imatrixPath,
    tensorTypes: PLACEMENT.map(([pattern, type]) => ({ pattern, type })),
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runtime on i-quant / ternary / fp4 GGUFs", () => {
  it("decodes every type's rows exactly as ggml's dequantize_row_* does", async () => {
    const raw = await openGguf(mixed);
    const g = await openGgufFile(mixed);
    const store = new WeightStore(mixed, g.sources(), {}, g.close);
    const seen = new Set<GGMLType>();
    try {
      for (const t of raw.tensors) {
        if (t.shape.length < 2 || GGML_TYPE_INFO[t.type].blockSize === 1) continue;
        seen.add(t.type);
        const bytes = await raw.readTensorBytes(t.name);
        const rowBytes = (t.shape[0] / GGML_TYPE_INFO[t.type].blockSize) * GGML_TYPE_INFO[t.type].typeSize;
        const rowsPerMatrix = t.shape[1];
        const experts = t.shape[2] ?? 1;
        const row = new Float32Array(t.shape[0]);
        for (let e = 0; e < experts; e++) {
          const m = experts > 1 ? store.matrix(t.name, e) : store.matrix(t.name);
          for (const r of [0, rowsPerMatrix - 1]) {
            const off = (e * rowsPerMatrix + r) * rowBytes;
            const ref = ggmlDequantize(t.type, bytes.subarray(off, off + rowBytes), t.shape[0]);
            decodeRow(m, r, row);
            expect(Buffer.from(row.buffer).equals(Buffer.from(ref.buffer)), `${t.name} expert ${e} row ${r}`).toBe(true);
          }
        }
      }
    } finally {
      store.close();
      await raw.close();
    }
    for (const [, type] of PLACEMENT) expect(seen.has(type), GGMLType[type]).toBe(true);
    expect(seen.has(GGMLType.IQ4_XS)).toBe(true);
  });

  it("runs the forward pass (finite logits, in every numerics mode)", async () => {
    const prompt = [1, 500, 900, 1200, 33, 44, 2000, 7];
    for (const ggmlNumerics of [false, true, "exact"] as const) {
      const m = await loadModel(mixed, { ggmlNumerics });
      try {
        const logits = await m.logits(prompt);
        expect(logits.length).toBeGreaterThan(0);
        expect(
          logits.every((v) => Number.isFinite(v)),
          `ggmlNumerics ${String(ggmlNumerics)}`,
        ).toBe(true);
      } finally {
        await m.close();
      }
    }
  });
});
