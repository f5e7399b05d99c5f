/**
 * Row decoders for little-endian f16 / bf16 bytes at any byte offset (GGUF tensor data is not 2-aligned in
 * general). The conversions themselves are @moeq/formats' (its F16_TO_F32 table, equal to ggml_fp16_to_fp32).
 */
import { F16_TO_F32, f32BitsToF16Bits } from "@moeq/formats";

export { roundToF16 } from "@moeq/formats";

/**
 * `dst[dstOff + i] = roundToF16(src[i])` for every element of `src` (`dst` may be `src`): the same bits, read and
 * written through u32 views. Values in the f16 normal range (2⁻¹⁴ ≤ |x| < 65536, the hot case) are rounded in the f32
 * bit pattern itself: round-to-nearest-even on the 13 mantissa bits f16 drops, a carry walking into the exponent as
 * in `f32BitsToF16Bits` (up to 65520.. → Inf); the rest (zero/subnormal halves, Inf, NaN) take the table path.
 */
export function roundRowToF16(src: Float32Array, dst: Float32Array = src, dstOff = 0): void {
  const n = src.length;
  const s = new Uint32Array(src.buffer, src.byteOffset, n);
  const d = dst === src && dstOff === 0 ? s : new Uint32Array(dst.buffer, dst.byteOffset + 4 * dstOff, n);
  for (let i = 0; i < n; i++) {
    const b = s[i];
    const abs = b & 0x7fffffff;
    if ((abs - 0x38800000) >>> 0 < 0x47800000 - 0x38800000) {
      const r = (abs + 0xfff + ((abs >>> 13) & 1)) & 0xffffe000;
      d[i] = ((b & 0x80000000) | (r >= 0x47800000 ? 0x7f800000 : r)) >>> 0;
    } else d[i] = F16_TO_F32_BITS[f32BitsToF16Bits(b)];
  }
}

/** F16_TO_F32's bit patterns (the NaNs of the table path keep their payload this way). */
const F16_TO_F32_BITS = new Uint32Array(F16_TO_F32.buffer, F16_TO_F32.byteOffset, F16_TO_F32.length);

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
