/**
 * Row decoders for little-endian f16 / bf16 bytes at any byte offset (GGUF tensor data is not 2-aligned in
 * general). The conversions themselves are @moeq/formats' (its F16_TO_F32 table, equal to ggml_fp16_to_fp32).
 */
import { F16_TO_F32, f32BitsToF16Bits } from "@moeq/formats";

export { roundToF16 } from "@moeq/formats";

/**
 * `dst[dstOff + i] = roundToF16(src[i])` for every element of `src` (`dst` may be `src`): the same bits, read through
 * a u32 view instead of one scratch write per value (the forward pass rounds Q, K and V this way per token).
 */
export function roundRowToF16(src: Float32Array, dst: Float32Array = src, dstOff = 0): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[dstOff + i] = F16_TO_F32[f32BitsToF16Bits(bits[i])];
}

/** Decodes `n` little-endian f16 values starting at byte `off`. */
export function f16RowToF32(src: Uint8Array, off: number, n: number, dst: Float32Array, dstOff = 0): void {
  for (let i = 0; i < n; i++) {
    const p = off + 2 * i;
    dst[dstOff + i] = F16_TO_F32[src[p] | (src[p + 1] << 8)];
  }
}

/** Decodes `n` little-endian bf16 values starting at byte `off` (bf16 is the top half of an f32). */
export function bf16RowToF32(src: Uint8Array, off: number, n: number, dst: Float32Array, dstOff = 0): void {
  const dstBits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < n; i++) {
    const p = off + 2 * i;
    dstBits[dstOff + i] = ((src[p] | (src[p + 1] << 8)) << 16) >>> 0;
  }
}
