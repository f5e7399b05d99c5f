// ggmlNumerics kernels against libggml-cpu itself: the Q8_0 integer-domain matmul and the ggml-order RMSNorm must
// be bit-identical (whole-model parity with llama.cpp depends on it: one ulp flips the next Q8 rounding).
import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { quantize } from "@moeq/quant";
import { makeWeightMatrix, type WeightMatrix } from "./weight-matrix.js";
import { matmul } from "./matmul.js";
import { ggmlActivationsFor } from "./ggml-activations.js";
import { ggmlMatmul, ggmlMatmulId } from "./ggml-matmul.js";
import { rmsNorm, rmsNormGgml } from "./elementwise.js";
import { ggmlMulMat, ggmlMulMatId, ggmlRmsNorm } from "@moeq/test-support/llama-run";
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

type Kernel = (w: WeightMatrix, x: Float32Array, n: number, out: Float32Array) => void;
type Oracle = typeof ggmlMulMat;

/** A seeded `type` weight [rows × cols] and nTok activation rows, multiplied by libggml (`oracle`) and by `kernel`. */
function vsGgml(type: GGMLType, rows: number, cols: number, nTok: number, seed: number, oracle: Oracle, kernel: Kernel) {
  const w = quantize(type, seeded(rows * cols, seed, 0.05), rows, cols);
  const m = makeWeightMatrix(type, cols, rows, w);
  const xs = seeded(nTok * cols, seed + 1, 2);
  const ref = oracle(type, w, cols, rows, xs, nTok);
  const ours = new Float32Array(nTok * rows);
  kernel(m, xs, nTok, ours);
  return { m, xs, ref, diffs: countDiffs(ours, ref) };
}

describe("ggmlMatmul for one activation row (llamafile_sgemm declines n < 2)", () => {
  for (const type of [GGMLType.F16, GGMLType.F32]) {
    it(`is bit-identical to ggml_mul_mat for ${GGMLType[type]} weights (ggml_vec_dot's order, not tinyBLAS's)`, () => {
      const rows = 24,
        cols = 768;
      const { m, xs, ref, diffs } = vsGgml(type, rows, cols, 1, 25, ggmlMulMat, ggmlMatmul);
      expect(diffs).toBe(0);
      // the same row twice goes through tinyBLAS, which sums in another order
      const twice = new Float32Array(2 * cols);
      twice.set(xs);
      twice.set(xs, cols);
      const tiny = new Float32Array(2 * rows);
      ggmlMatmul(m, twice, 2, tiny);
      expect(countDiffs(tiny.subarray(0, rows), ref)).toBeGreaterThan(0);
    });
    it(`is bit-identical to ggml_mul_mat for ${GGMLType[type]} weights whose rows leave leftovers (1000 = 15·64 + 40)`, () => {
      expect(vsGgml(type, 24, 1000, 1, 27, ggmlMulMat, ggmlMatmul).diffs).toBe(0);
    });
  }
});

describe("ggmlMatmulId (the routed experts' MUL_MAT_ID)", () => {
  // 1000 columns: 15 steps of 64 and 40 leftovers; 768: no leftovers
  for (const cols of [1000, 768]) {
    it(`is bit-identical to ggml_mul_mat_id for F16 experts (${cols} columns), which MUL_MAT's tinyBLAS order is not`, () => {
      const { diffs, ref } = vsGgml(GGMLType.F16, 24, cols, 5, 21, ggmlMulMatId, ggmlMatmulId);
      expect(diffs).toBe(0);
      if (cols % 16 === 0) expect(vsGgml(GGMLType.F16, 24, cols, 5, 21, () => ref, ggmlMatmul).diffs).toBeGreaterThan(0);
    });
  }
  it("is bit-identical to ggml_mul_mat_id for F32 experts (ggml_vec_dot_f32, 1000 columns)", () => {
    expect(vsGgml(GGMLType.F32, 24, 1000, 5, 29, ggmlMulMatId, ggmlMatmulId).diffs).toBe(0);
  });
  it("is ggml_mul_mat_id for Q8_0 experts too (the integer kernel is vec_dot's order)", () => {
    expect(vsGgml(GGMLType.Q8_0, 16, 512, 3, 23, ggmlMulMatId, ggmlMatmulId).diffs).toBe(0);
  });
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
