// The trained fixture's real weights (fixtures/tiny-llama4, bf16 safetensors) through every codec, with and without
// an importance matrix: our bytes == ggml_quantize_chunk's and our dequantized floats == ggml's to_float.
// Rows are each tensor's last (contiguous) dimension in checkpoint order — any row of real weights exercises the
// codecs; the GGUF layout transforms belong to the converter package. Up to MAX_ROWS rows per tensor keep it quick.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GGML_TYPE_INFO, ggmlTypeName, openSafetensors } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES, dequantize, quantize, quantizeRequiresImatrix } from "./index.js";
import { ggmlDequantize, ggmlQuantizeChunk } from "@moeq/test-support/ggml-quants";
import { GRID_IQUANT_TYPES, describeFloatMismatch, describeMismatch, makeImatrix } from "./test-utils/rows.js";

const FIXTURE = fileURLToPath(new URL("../../../fixtures/tiny-llama4", import.meta.url));
const MAX_ROWS = 48;

describe("codecs on the tiny-llama4 fixture's weights", () => {
  it("match ggml for every 2-D+ weight tensor and every supported type", async () => {
    const ckpt = await openSafetensors(FIXTURE);
    const failures: string[] = [];
    let tensorsChecked = 0;
    try {
      for (const [name, t] of ckpt.tensors) {
        const nPerRow = t.shape[t.shape.length - 1];
        if (t.shape.length < 2 || nPerRow % 32 !== 0) continue;
        const all = await ckpt.readFloat32(name);
        const nrows = Math.min(MAX_ROWS, all.length / nPerRow);
        const src = all.subarray(0, nrows * nPerRow);
        const imatrix = makeImatrix(nPerRow, tensorsChecked + 1);
        tensorsChecked++;
        for (const type of SUPPORTED_QUANT_TYPES) {
          if (nPerRow % GGML_TYPE_INFO[type].blockSize !== 0 || GRID_IQUANT_TYPES.has(type)) continue;
          // ggml asserts (aborts) without an imatrix for IQ2_XXS, IQ2_XS and IQ1_S
          for (const im of quantizeRequiresImatrix(type) ? [imatrix] : [null, imatrix]) {
            const ref = ggmlQuantizeChunk(type, src, nrows, nPerRow, im);
            const label = `${name} ${ggmlTypeName(type)} ${im ? "imatrix" : "no imatrix"}`;
            const q = describeMismatch(quantize(type, src, nrows, nPerRow, im), ref, GGML_TYPE_INFO[type].typeSize);
            if (q) failures.push(`${label}: ${q}`);
            const n = nrows * nPerRow;
            const d = describeFloatMismatch(dequantize(type, ref, n), ggmlDequantize(type, ref, n));
            if (d) failures.push(`${label} dequantize: ${d}`);
          }
        }
      }
    } finally {
      await ckpt.close();
    }
    expect(tensorsChecked).toBeGreaterThan(10);
    expect(failures.slice(0, 10)).toEqual([]);
  }, 120_000);
});
