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
import { intMatmul, intMatmulIsExact } from "./int-matmul.js";
import { wasmHost } from "./wasm-host.js";

/**
 * F32 × F32 and F16 × F16 (activations rounded to f16 first) as llamafile's tinyBLAS (AVX-512): 16 f32 lanes over
 * the inputs (index mod 16), fused multiply-add chains, then `_mm512_reduce_add_ps`.
 */
function matmulTiny(w: WeightMatrix, inp: Float32Array, n: number, out: Float32Array): void {
  const f = Math.fround;
  const { rows, cols } = w;
  const row = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    decodeRow(w, r, row);
    for (let t = 0; t < n; t++) {
      const xo = t * cols;
      // lane i takes inputs i, i+16, …; unrolled so the 16 accumulators stay in registers
      // prettier-ignore
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
      // prettier-ignore
      let a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0;
      for (let i = 0; i < cols; i += 16) {
        const x = xo + i;
        a0 = f(row[i] * inp[x] + a0);
        a1 = f(row[i + 1] * inp[x + 1] + a1);
        a2 = f(row[i + 2] * inp[x + 2] + a2);
        a3 = f(row[i + 3] * inp[x + 3] + a3);
        a4 = f(row[i + 4] * inp[x + 4] + a4);
        a5 = f(row[i + 5] * inp[x + 5] + a5);
        a6 = f(row[i + 6] * inp[x + 6] + a6);
        a7 = f(row[i + 7] * inp[x + 7] + a7);
        a8 = f(row[i + 8] * inp[x + 8] + a8);
        a9 = f(row[i + 9] * inp[x + 9] + a9);
        a10 = f(row[i + 10] * inp[x + 10] + a10);
        a11 = f(row[i + 11] * inp[x + 11] + a11);
        a12 = f(row[i + 12] * inp[x + 12] + a12);
        a13 = f(row[i + 13] * inp[x + 13] + a13);
        a14 = f(row[i + 14] * inp[x + 14] + a14);
        a15 = f(row[i + 15] * inp[x + 15] + a15);
      }
      // _mm512_reduce_add_ps (GCC): 256-bit halves, 128-bit halves, then (l0+l2)+(l1+l3)
      const b0 = f(f(a0 + a8) + f(a4 + a12)),
        b1 = f(f(a1 + a9) + f(a5 + a13)),
        b2 = f(f(a2 + a10) + f(a6 + a14)),
        b3 = f(f(a3 + a11) + f(a7 + a15));
      out[t * rows + r] = f(f(b0 + b2) + f(b1 + b3));
    }
  }
}

/**
 * llama.cpp's CPU matmul bit for bit. Q8_0/Q2_K/Q3_K/Q4_K/Q6_K run the WASM integer kernel (same lane order, split
 * over `threads`; the scalar emulations below are its reference and the fallback without WebAssembly).
 */
export function ggmlMatmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array, threads = 1): void {
  const host = wasmHost();
  if (host && intMatmulIsExact(w.type) && intMatmul(host, w, x, n, out, threads, true)) return;
  if (w.type === GGMLType.F32 && w.cols % 16 === 0) matmulTiny(w, x, n, out);
  else if (w.type === GGMLType.F16 && w.cols % 16 === 0) matmulTiny(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
  else if (w.type === GGMLType.Q8_0 && w.cols % 32 === 0) matmulQ8_0Exact(w, x, n, out);
  else if (hasExactKQuantDot(w.type) && w.cols % 256 === 0) matmulKQuantExact(w, x, n, out);
  else matmul(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
}
