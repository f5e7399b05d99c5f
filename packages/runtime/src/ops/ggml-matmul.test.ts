// ggmlNumerics kernels against libggml-cpu itself: the Q8_0 integer-domain matmul and the ggml-order RMSNorm must
// be bit-identical (whole-model parity with llama.cpp depends on it: one ulp flips the next Q8 rounding).
import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { quantize } from "@moeq/quant";
import { makeWeightMatrix } from "./weight-matrix.js";
import { matmul } from "./matmul.js";
import { ggmlActivationsFor } from "./ggml-activations.js";
import { ggmlMatmul } from "./ggml-matmul.js";
import { rmsNorm, rmsNormGgml } from "./elementwise.js";
import { ggmlMulMat, ggmlRmsNorm } from "@moeq/test-support/llama-run";
import { seeded } from "../test-utils/seeded-floats.js";

function countDiffs(a: Float32Array, b: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe("ggmlMatmul", () => {
  for (const nTok of [1, 7]) {
    it(`is bit-identical to ggml_mul_mat for Q8_0 weights (${nTok} token rows)`, () => {
      const rows = 40,
        cols = 1024;
      const w = quantize(GGMLType.Q8_0, seeded(rows * cols, 5, 0.05), rows, cols);
      const xs = seeded(nTok * cols, 6, 2);
      const ref = ggmlMulMat(GGMLType.Q8_0, w, cols, rows, xs, nTok);
      const m = makeWeightMatrix(GGMLType.Q8_0, cols, rows, w);
      const ours = new Float32Array(nTok * rows);
      ggmlMatmul(m, xs, nTok, ours);
      expect(countDiffs(ours, ref)).toBe(0);
      // the f32-kernel emulation it replaces is only equal up to summation order
      const approx = new Float32Array(nTok * rows);
      matmul(m, ggmlActivationsFor(GGMLType.Q8_0, xs, nTok, cols), nTok, approx);
      expect(countDiffs(approx, ref)).toBeGreaterThan(0);
    });
  }
});

describe("ggmlMatmul for k-quants, F16 and F32", () => {
  for (const type of [GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q6_K, GGMLType.F16, GGMLType.F32]) {
    it(`is bit-identical to ggml_mul_mat for ${GGMLType[type]} weights`, () => {
      const rows = 24,
        cols = 768,
        nTok = 5;
      const w = quantize(type, seeded(rows * cols, 11 + type, 0.05), rows, cols);
      if (w.byteLength === 0) throw new Error("quantize produced nothing");
      const xs = seeded(nTok * cols, 12, 2);
      const ref = ggmlMulMat(type, w, cols, rows, xs, nTok);
      const m = makeWeightMatrix(type, cols, rows, w);
      const ours = new Float32Array(nTok * rows);
      ggmlMatmul(m, xs, nTok, ours);
      expect(countDiffs(ours, ref)).toBe(0);
    });
  }
});

describe("rmsNormGgml", () => {
  it("is bit-identical to ggml_rms_norm (f32 squares summed in double, sqrtf then 1.0f/)", () => {
    const n = 64,
      d = 256,
      eps = 1e-5;
    const x = seeded(n * d, 9, 3);
    const ref = ggmlRmsNorm(x, n, d, eps);
    const ours = new Float32Array(n * d);
    rmsNormGgml(x, null, n, d, eps, ours);
    expect(countDiffs(ours, ref)).toBe(0);
    const hf = new Float32Array(n * d);
    rmsNorm(x, null, n, d, eps, hf);
    expect(countDiffs(hf, ref)).toBeGreaterThan(0);
  });
});
