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
import { fmaf } from "./fmaf.js";

const f = Math.fround;

/**
 * GCC's `_mm512_reduce_add_ps` of the 16 lanes v[o..o+15]: 256-bit halves, then 128-bit halves, then (l0+l2)+(l1+l3),
 * each step an f32 add.
 */
function reduceAdd16(v: Float32Array, o: number): number {
  const b0 = f(f(v[o] + v[o + 8]) + f(v[o + 4] + v[o + 12])),
    b1 = f(f(v[o + 1] + v[o + 9]) + f(v[o + 5] + v[o + 13])),
    b2 = f(f(v[o + 2] + v[o + 10]) + f(v[o + 6] + v[o + 14])),
    b3 = f(f(v[o + 3] + v[o + 11]) + f(v[o + 7] + v[o + 15]));
  return f(f(b0 + b2) + f(b1 + b3));
}

/**
 * 16 fused multiply-add chains (AVX-512 lanes): lane l accumulates row[i + l]·inp[xo + i + l] for i = start,
 * start + step, … < end, in f32 from 0; the lanes go to lanes[o..o+15]. Unrolled so the accumulators stay in registers.
 */
function fmaLanes16(row: Float32Array, inp: Float32Array, xo: number, start: number, end: number, step: number, lanes: Float32Array, o: number): void {
  // prettier-ignore
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  // prettier-ignore
  let a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0;
  for (let i = start; i < end; i += step) {
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
  lanes[o] = a0;
  lanes[o + 1] = a1;
  lanes[o + 2] = a2;
  lanes[o + 3] = a3;
  lanes[o + 4] = a4;
  lanes[o + 5] = a5;
  lanes[o + 6] = a6;
  lanes[o + 7] = a7;
  lanes[o + 8] = a8;
  lanes[o + 9] = a9;
  lanes[o + 10] = a10;
  lanes[o + 11] = a11;
  lanes[o + 12] = a12;
  lanes[o + 13] = a13;
  lanes[o + 14] = a14;
  lanes[o + 15] = a15;
}

/** `fmaLanes16` for f32 × f32 products, which a double does not round the way one `fmaf` does: through `fmaf`. */
function fmaLanes16F32(row: Float32Array, inp: Float32Array, xo: number, start: number, end: number, step: number, lanes: Float32Array, o: number): void {
  for (let l = 0; l < 16; l++) {
    let a = 0;
    for (let i = start + l; i < end; i += step) a = fmaf(row[i], inp[xo + i], a);
    lanes[o + l] = a;
  }
}

/**
 * F32 × F32 and F16 × F16 (activations rounded to f16 first) as llamafile's tinyBLAS (AVX-512): 16 f32 lanes over
 * the inputs (index mod 16), fused multiply-add chains, then `_mm512_reduce_add_ps`.
 */
function matmulTiny(w: WeightMatrix, inp: Float32Array, n: number, out: Float32Array): void {
  const { rows, cols } = w;
  const row = new Float32Array(cols);
  const lanes = new Float32Array(16);
  const fmaLanes = w.type === GGMLType.F32 ? fmaLanes16F32 : fmaLanes16;
  for (let r = 0; r < rows; r++) {
    decodeRow(w, r, row);
    for (let t = 0; t < n; t++) {
      fmaLanes(row, inp, t * cols, 0, cols, 16, lanes, 0);
      out[t * rows + r] = reduceAdd16(lanes, 0);
    }
  }
}

/**
 * F16 × F16 (activations rounded to f16 first) as `ggml_vec_dot_f16`, and F32 × F32 as `ggml_vec_dot_f32`
 * (ggml-cpu/vec.cpp), compiled for AVX-512F without AVX512-FP16 (simd-mappings.h: STEP 64, EPR 16, `GGML_F32Cx16` /
 * `GGML_F32x16`): the kernels of MUL_MAT_ID (the routed experts) and of MUL_MAT wherever tinyBLAS declines. Four
 * 16-lane f32 accumulators, the element at i < np (np = n rounded down to 64) going to accumulator (i mod 64) / 16,
 * lane i mod 16, by `_mm512_fmadd_ps`; reduced as `GGML_F32x16_REDUCE`: (s0 + s2) + (s1 + s3) lane-wise, then
 * `_mm512_reduce_add_ps`. F16: that sum is widened to double, the leftovers i ≥ np are added in double (each product
 * f32(x)·f32(y), exact) and the double is stored as f32. F32: the sum stays f32 and each leftover product is rounded
 * to f32 and added in f32.
 *
 * For F16 each FMA is f(w·x + acc) in doubles, which is exactly `fmaf`: w·x of two f16 values has at most 22
 * significant bits, so it is itself an f32 number, and the double sum of two f32 numbers rounded to f32 is the
 * correctly rounded f32 sum (double rounding is innocuous for + when 53 ≥ 2·24 + 1). F32 products go through `fmaf`.
 */
function matmulVecDot(w: WeightMatrix, inp: Float32Array, n: number, out: Float32Array): void {
  const { rows, cols } = w;
  const isF32 = w.type === GGMLType.F32;
  const fmaLanes = isF32 ? fmaLanes16F32 : fmaLanes16;
  const np = cols & ~63;
  const row = new Float32Array(cols);
  const acc = new Float32Array(64); // accumulator j lane l at 16·j + l
  for (let r = 0; r < rows; r++) {
    decodeRow(w, r, row);
    for (let t = 0; t < n; t++) {
      const xo = t * cols;
      for (let j = 0; j < 4; j++) fmaLanes(row, inp, xo, 16 * j, np, 64, acc, 16 * j);
      for (let l = 0; l < 16; l++) acc[l] = f(f(acc[l] + acc[32 + l]) + f(acc[16 + l] + acc[48 + l]));
      let sum = reduceAdd16(acc, 0);
      if (isF32) for (let i = np; i < cols; i++) sum = f(sum + f(row[i] * inp[xo + i]));
      else for (let i = np; i < cols; i++) sum += row[i] * inp[xo + i];
      out[t * rows + r] = sum;
    }
  }
}

/**
 * llama.cpp's CPU matmul bit for bit. Q8_0/Q2_K/Q3_K/Q4_K/Q6_K run the WASM integer kernel (same lane order, split
 * over `threads`; the scalar emulations below are its reference and the fallback without WebAssembly). F16 and F32
 * go to tinyBLAS as in `ggml_compute_forward_mul_mat`, except where `llamafile_sgemm` declines — one activation row
 * (`n < 2`, "only enable sgemm for prompt processing") or a row length that is not a multiple of 16 — and
 * `ggml_vec_dot_f16` / `ggml_vec_dot_f32` compute each output.
 */
export function ggmlMatmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array, threads = 1): void {
  const host = wasmHost();
  if (host && intMatmulIsExact(w.type) && intMatmul(host, w, x, n, out, threads, true)) return;
  if (w.type === GGMLType.F32 || w.type === GGMLType.F16) {
    const inp = ggmlActivationsFor(w.type, x, n, w.cols);
    if (w.cols % 16 === 0 && n >= 2) matmulTiny(w, inp, n, out);
    else matmulVecDot(w, inp, n, out);
  } else if (w.type === GGMLType.Q8_0 && w.cols % 32 === 0) matmulQ8_0Exact(w, x, n, out);
  else if (hasExactKQuantDot(w.type) && w.cols % 256 === 0) matmulKQuantExact(w, x, n, out);
  else matmul(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
}

/**
 * llama.cpp's CPU MUL_MAT_ID (ggml-cpu.c `ggml_compute_forward_mul_mat_id`) for one expert's rows, bit for bit: every
 * output is one `vec_dot` of the weight type (no tinyBLAS), so F16/F32 experts take `ggml_vec_dot_f16/f32`'s order; the integer
 * kernels of Q8_0 and the k-quants are the vec_dot order already.
 */
export function ggmlMatmulId(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array, threads = 1): void {
  if (w.type === GGMLType.F16 || w.type === GGMLType.F32) matmulVecDot(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
  else ggmlMatmul(w, x, n, out, threads);
}
