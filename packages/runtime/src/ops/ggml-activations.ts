/**
 * llama.cpp's CPU backend multiplies a weight of type T with activations first converted to T's `vec_dot_type`
 * (ggml-cpu type_traits): Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4/NVFP4, Q8_1 for Q4_1/Q5_1, Q8_K for every k-quant and
 * the other i-quants and ternary types, F16 for F16,
 * BF16 for BF16. The integer dot products are then exact, so `dequant(W) · dequant(quant(x))` in floating point
 * reproduces llama.cpp's matmul up to summation order. This module applies that activation rounding
 * ("fake-quantizes" the rows, from the codes of `q8-activations.ts`) so GGUF inference matches llama.cpp, not an
 * idealised f32 model.
 */
import { GGMLType } from "@moeq/formats";
import { roundRowToF16 } from "./half.js";
import { ScratchPool } from "./scratch.js";
import { fakeQuantRowsQ8 } from "./q8-activations.js";

const bfBuf = new Float32Array(1);
const bfBits = new Uint32Array(bfBuf.buffer);
function roundToBf16(x: number): number {
  bfBuf[0] = x;
  const b = bfBits[0];
  if ((b & 0x7fffffff) > 0x7f800000) return x;
  bfBits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
  return bfBuf[0];
}

/** The rounded F16/BF16 activations, reused from call to call (the matmuls copy them into the kernel memory). */
const rounded = new ScratchPool();

/**
 * Returns `x` ([n × cols]) rounded the way llama.cpp rounds activations before multiplying them with a `weightType`
 * weight, or `x` itself when no rounding happens (F32 weights). F16/BF16 rows are valid until the next call.
 */
export function ggmlActivationsFor(weightType: GGMLType, x: Float32Array, n: number, cols: number): Float32Array {
  switch (weightType) {
    case GGMLType.F32:
      return x;
    case GGMLType.F16: {
      const out = rounded.get("f16", n * cols);
      roundRowToF16(x.subarray(0, n * cols), out);
      return out;
    }
    case GGMLType.BF16: {
      const out = rounded.get("bf16", n * cols);
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
    case GGMLType.NVFP4:
      return fakeQuantRowsQ8("q8_0", x, n, cols);
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
    case GGMLType.TQ2_0:
      return fakeQuantRowsQ8("q8_K", x, n, cols);
    default:
      return x;
  }
}
