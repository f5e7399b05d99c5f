/**
 * The matmul llama.cpp's CPU backend computes for a weight of a given type (`ggmlNumerics` mode): F32 / F16 (tinyBLAS), Q8_0,
 * Q2_K, Q3_K, Q4_K and Q6_K weights get the bit-exact integer-domain emulation, every other type the activation rounding of its `vec_dot_type` followed
 * by our f32 kernel (equal up to f32 summation order).
 */
import { GGMLType } from "@moeq/formats";
import { decodeRow, type WeightMatrix } from "./weight-matrix.js";
import { matmul } from "./matmul.js";
import { ggmlActivationsFor } from "./ggml-activations.js";
import { matmulQ8_0Exact } from "./ggml-q8-0-dot.js";
import { hasExactKQuantDot, matmulKQuantExact } from "./ggml-kquant-dot.js";
import { reduceAdd16 } from "./ggml-attention-math.js";

/**
 * F32 × F32 and F16 × F16 (activations rounded to f16 first) as llamafile's tinyBLAS (AVX-512): 16 f32 lanes over
 * the inputs (index mod 16), fused multiply-add chains, then `_mm512_reduce_add_ps`.
 */
function matmulTiny(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void {
  const f = Math.fround;
  const { rows, cols } = w;
  const lanes = new Float64Array(16);
  const row = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    decodeRow(w, r, row);
    const wf = row;
    const wo = 0;
    for (let t = 0; t < n; t++) {
      const xo = t * cols;
      lanes.fill(0);
      for (let i = 0; i < cols; i++) lanes[i & 15] = f(wf[wo + i] * x[xo + i] + lanes[i & 15]);
      out[t * rows + r] = reduceAdd16(lanes);
    }
  }
}

export function ggmlMatmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void {
  if (w.type === GGMLType.F32 && w.cols % 16 === 0) matmulTiny(w, x, n, out);
  else if (w.type === GGMLType.F16 && w.cols % 16 === 0) matmulTiny(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
  else if (w.type === GGMLType.Q8_0 && w.cols % 32 === 0) matmulQ8_0Exact(w, x, n, out);
  else if (hasExactKQuantDot(w.type) && w.cols % 256 === 0) matmulKQuantExact(w, x, n, out);
  else matmul(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
}
