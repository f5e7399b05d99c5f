/**
 * Half-precision conversions exactly as ggml does them (ggml-impl.h). Kept private to @moeq/quant because the
 * block codecs need the bit-level behaviour of `GGML_FP32_TO_FP16` (round to nearest even, subnormals kept,
 * overflow to ±inf, NaN → sign|0x7E00) and a fast table for `GGML_FP16_TO_FP32`.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of a float32 value. */
export function f32Bits(v: number): number {
  f32[0] = v;
  return u32[0];
}

/**
 * GGML_FP32_TO_FP16 on the raw bits of a float32: round to nearest, ties to even; values below half the smallest
 * subnormal go to ±0; ≥ 65520 goes to ±inf; NaN becomes sign|0x7E00 (ggml_compute_fp32_to_fp16).
 */
export function fp16FromF32Bits(w: number): number {
  const sign = (w >>> 16) & 0x8000;
  const a = w & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00; // NaN
  if (a >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds past 65504 (and ±inf stays inf)
  if (a >= 0x38800000) {
    // normal half: re-bias the exponent (127 → 15) and round the 13 dropped mantissa bits to even
    return sign | ((a + 0x0fff + ((a >>> 13) & 1) - 0x38000000) >>> 13);
  }
  if (a <= 0x33000000) return sign; // ≤ 2^-25: rounds to zero (2^-25 itself is a tie, to even = 0)
  // subnormal half: value = m·2^(e-150); units of 2^-24 → shift m right by 126-e with RNE
  const e = a >>> 23;
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e;
  let q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1) !== 0)) q++;
  return sign | q;
}

/** GGML_FP32_TO_FP16 of a float32 value (a JS number that is already float32). */
export function fp32ToFp16(v: number): number {
  f32[0] = v;
  return fp16FromF32Bits(u32[0]);
}

/** All 65536 half values widened to float32 (exact), as ggml_compute_fp16_to_fp32 produces them. */
export const FP16_TO_FP32: Float32Array = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      // inf, or NaN quieted by ggml's multiply (payload kept)
      bits[h] = sign | 0x7f800000 | (mant << 13) | (mant !== 0 ? 0x00400000 : 0);
    } else if (exp !== 0) {
      bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    } else {
      // zero or subnormal: mant·2^-24, exact in float32
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24;
    }
  }
  return table;
})();

/** GGML_FP16_TO_FP32. */
export function fp16ToFp32(h: number): number {
  return FP16_TO_FP32[h];
}

/** ggml_compute_fp32_to_bf16 on float32 bits: round to nearest even; NaN keeps its top bits and is forced quiet. */
export function bf16FromF32Bits(w: number): number {
  if ((w & 0x7fffffff) > 0x7f800000) return ((w >>> 16) | 64) & 0xffff;
  return ((w + (0x7fff + ((w >>> 16) & 1))) >>> 16) & 0xffff;
}
