/**
 * Half-precision helpers for the block codecs. The bit conversions are @moeq/formats' (each equal to ggml's
 * ggml_compute_fp32_to_fp16 / _fp16_to_fp32 / _fp32_to_bf16 for every input; checked over all 2^32 float32
 * patterns against this package's WebAssembly kernels, which the tests compare with libggml-base.so). This module
 * adds what the hot loops want: float32-value entry points and a 65536-entry fp16 → fp32 table.
 */
import { f16BitsToF32Bits, f32BitsToBf16Bits, f32BitsToF16Bits } from "@moeq/formats";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** GGML_FP32_TO_FP16 on float32 bits (round to nearest even, subnormals kept, ±inf on overflow, NaN → sign|0x7E00). */
export const fp16FromF32Bits: (w: number) => number = f32BitsToF16Bits;

/** ggml_compute_fp32_to_bf16 on float32 bits (round to nearest even; NaN forced quiet). */
export const bf16FromF32Bits: (w: number) => number = f32BitsToBf16Bits;

/** GGML_FP32_TO_FP16 of a float32 value (a JS number that is already float32). */
export function fp32ToFp16(v: number): number {
  f32[0] = v;
  return f32BitsToF16Bits(u32[0]);
}

/** All 65536 half values widened to float32 exactly as ggml_compute_fp16_to_fp32 does (NaNs quieted, payload kept). */
export const FP16_TO_FP32: Float32Array = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) bits[h] = f16BitsToF32Bits(h);
  return table;
})();
