/**
 * llama.cpp's CPU backend multiplies a weight of type T with activations first converted to T's `vec_dot_type`
 * (ggml-cpu type_traits): Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4/NVFP4, Q8_1 for Q4_1/Q5_1, Q8_K for every k-quant and
 * the other i-quants and ternary types, F16 for F16,
 * BF16 for BF16. The integer dot products are then exact, so `dequant(W) · dequant(quant(x))` in floating point
 * reproduces llama.cpp's matmul up to summation order. This module applies that activation rounding
 * ("fake-quantizes" the rows) so GGUF inference matches llama.cpp, not an idealised f32 model.
 */
import { GGMLType } from "@moeq/formats";
import { roundToF16 } from "./half.js";

const f = Math.fround;
const MAGIC = 12582912; // 1.5·2^23: adding it in f32 rounds to the nearest integer, ties to even (ggml nearest_int)

function rne(x: number): number {
  return f(x + MAGIC) - MAGIC;
}

/** quantize_row_q8_0 / q8_1 (x86 AVX2 path): d = amax/127 stored as f16, q = round_even(x · 127/amax). */
function fakeQ8_0(x: Float32Array, off: number, n: number, out: Float32Array): void {
  for (let b = 0; b < n; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[off + b + j]));
    const d = roundToF16(f(amax / 127));
    const id = amax !== 0 ? f(127 / amax) : 0;
    for (let j = 0; j < 32; j++) out[off + b + j] = rne(f(x[off + b + j] * id)) * d;
  }
}

/** quantize_row_q8_K_ref: iscale = −127/max (signed max of largest magnitude), q = min(127, nearest_int), d = 1/iscale (f32). */
function fakeQ8_K(x: Float32Array, off: number, n: number, out: Float32Array): void {
  for (let b = 0; b < n; b += 256) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[off + b + j];
      const a = Math.abs(v);
      if (a > amax) {
        amax = a;
        max = v;
      }
    }
    if (amax === 0) {
      for (let j = 0; j < 256; j++) out[off + b + j] = 0;
      continue;
    }
    const iscale = f(-127 / max);
    const d = f(1 / iscale);
    for (let j = 0; j < 256; j++) out[off + b + j] = Math.min(127, rne(f(iscale * x[off + b + j]))) * d;
  }
}

const bfBuf = new Float32Array(1);
const bfBits = new Uint32Array(bfBuf.buffer);
function roundToBf16(x: number): number {
  bfBuf[0] = x;
  const b = bfBits[0];
  if ((b & 0x7fffffff) > 0x7f800000) return x;
  bfBits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
  return bfBuf[0];
}

/**
 * Returns `x` ([n × cols]) rounded the way llama.cpp rounds activations before multiplying them with a `weightType`
 * weight, or `x` itself when no rounding happens (F32 weights).
 */
export function ggmlActivationsFor(weightType: GGMLType, x: Float32Array, n: number, cols: number): Float32Array {
  switch (weightType) {
    case GGMLType.F32:
      return x;
    case GGMLType.F16: {
      const out = new Float32Array(n * cols);
      for (let i = 0; i < n * cols; i++) out[i] = roundToF16(x[i]);
      return out;
    }
    case GGMLType.BF16: {
      const out = new Float32Array(n * cols);
      for (let i = 0; i < n * cols; i++) out[i] = roundToBf16(x[i]);
      return out;
    }
    case GGMLType.Q4_0:
    case GGMLType.Q4_1:
    case GGMLType.Q5_0:
    case GGMLType.Q5_1:
    case GGMLType.Q8_0:
    case GGMLType.IQ4_NL:
    case GGMLType.MXFP4:
    case GGMLType.NVFP4: {
      const out = new Float32Array(n * cols);
      for (let t = 0; t < n; t++) fakeQ8_0(x, t * cols, cols, out);
      return out;
    }
    case GGMLType.Q2_K:
    case GGMLType.Q3_K:
    case GGMLType.Q4_K:
    case GGMLType.Q5_K:
    case GGMLType.Q6_K:
    case GGMLType.IQ1_S:
    case GGMLType.IQ1_M:
    case GGMLType.IQ2_XXS:
    case GGMLType.IQ2_XS:
    case GGMLType.IQ2_S:
    case GGMLType.IQ3_XXS:
    case GGMLType.IQ3_S:
    case GGMLType.IQ4_XS:
    case GGMLType.TQ1_0:
    case GGMLType.TQ2_0: {
      const out = new Float32Array(n * cols);
      for (let t = 0; t < n; t++) fakeQ8_K(x, t * cols, cols, out);
      return out;
    }
    default:
      return x;
  }
}
