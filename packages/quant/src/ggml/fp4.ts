/**
 * The E2M1 (4-bit float) types, values kvalues_fp4 = 2·{0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6} times a block scale,
 * ported from ggml-quants.c quantize_row_mxfp4_ref / quantize_row_nvfp4_ref (ggml_quantize_chunk ignores the
 * imatrix) and dequantize_row_mxfp4 / _nvfp4, with the scale conversions of ggml-impl.h:
 * - MXFP4 (17 B per 32): e (E8M0) | qs[16]; d = 2^(e−128) (GGML_E8M0_TO_FP32_HALF), e = floor(log2 max|x|) − 2 + 127.
 * - NVFP4 (36 B per 64): d[4] (UE4M3, one per 16) | qs[32]; d = ue4m3(max|x| / 6).
 * Each element takes the first entry of least |kvalues_fp4[i]·d − x|; lo nibble = element j, hi = j + half.
 */
import { GGMLType } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { cvttToInt32 } from "./float32-math.js";
import { KVALUES_FP4 } from "./iquant-tables.generated.js";

// module-local aliases: hot loops read these, not the imported bindings (which some loaders wrap in getters)
const KVALUES_FP4_ = KVALUES_FP4;

const fr = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** kvalues_fp4[i]·d in float32 for the current block (the products best_index_mxfp4 forms for every element). */
const levels = new Float64Array(16);

function setLevels(d: number): void {
  for (let i = 0; i < 16; i++) levels[i] = fr(KVALUES_FP4_[i] * d);
}

/** best_index_mxfp4 at the scale set by setLevels: the first index of least |kvalues_fp4[i]·d − x| in float32. */
function bestIndexFp4(x: number): number {
  let best = 0;
  let bestErr = Math.abs(fr(levels[0] - x));
  for (let i = 1; i < 16; i++) {
    const err = Math.abs(fr(levels[i] - x));
    if (err < bestErr) {
      best = i;
      bestErr = err;
    }
  }
  return best;
}

/** max |x| over x[xo…xo+n) as `if (amax < fabsf(v)) amax = fabsf(v)` finds it (a NaN never wins). */
function absMax(x: Float32Array, xo: number, n: number): number {
  let amax = 0;
  for (let j = 0; j < n; j++) {
    const a = Math.abs(x[xo + j]);
    if (amax < a) amax = a;
  }
  return amax;
}

/** `half` bytes of nibble pairs: lo = element j, hi = element j + half, each the nearest fp4 level at scale d. */
function packFp4(x: Float32Array, xo: number, half: number, d: number, y: Uint8Array, yo: number): void {
  setLevels(d);
  for (let j = 0; j < half; j++) y[yo + j] = bestIndexFp4(x[xo + j]) | (bestIndexFp4(x[xo + half + j]) << 4);
}

/** GGML_E8M0_TO_FP32_HALF: 0.5·2^(e−127) as float32 bits (the two smallest e are subnormals). */
export function e8m0ToFp32Half(e: number): number {
  u32[0] = e < 2 ? 0x00200000 << e : (e - 1) << 23;
  return f32[0];
}

/** ggml_ue4m3_to_fp32: unsigned E4M3 (bias 7) halved; 0 and 0x7F read as 0. */
export function ue4m3ToFp32(x: number): number {
  if (x === 0 || x === 0x7f) return 0;
  const exp = (x >> 3) & 0xf;
  const man = x & 7;
  const raw = exp === 0 ? man * 2 ** -9 : (1 + man / 8) * 2 ** (exp - 7);
  return fr(raw * 0.5);
}

/** ggml_fp32_to_ue4m3 of a float32 value: positive values only (else 0), clamped to 448, mantissa rounded by its next bit. */
export function fp32ToUe4m3(v: number): number {
  if (!(v > 0)) return 0;
  const x = v > 448 ? 448 : v;
  f32[0] = x;
  const bits = u32[0];
  const fp32Exp = ((bits >>> 23) & 0xff) - 127;
  let exp = fp32Exp + 7;
  if (exp <= 0) {
    const man = cvttToInt32(fr(fr(x * 512) + 0.5));
    return man > 7 ? 7 : man < 1 ? 0 : man;
  }
  if (exp >= 15) return 0x7e;
  let man = ((bits >>> 20) & 7) + ((bits >>> 19) & 1);
  if (man > 7) {
    man = 0;
    exp++;
    if (exp >= 15) return 0x7e;
  }
  return (exp << 3) | man;
}

const MXFP4_BYTES = 17;
const NVFP4_BYTES = 36;

export const MXFP4_CODEC: GgmlCodec = {
  type: GGMLType.MXFP4,
  quantizeRows(src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) {
    const nb = (nrows * nPerRow) / 32;
    for (let i = 0, xo = srcOffset, yo = dstOffset; i < nb; i++, xo += 32, yo += MXFP4_BYTES) {
      const amax = absMax(src, xo, 32);
      // (uint8_t)(floorf(log2f(amax)) - 2 + 127): float arithmetic, truncated to int, low byte kept
      const e = amax > 0 ? cvttToInt32(fr(fr(Math.floor(fr(Math.log2(amax))) - 2) + 127)) & 0xff : 0;
      dst[yo] = e;
      packFp4(src, xo, 16, e8m0ToFp32Half(e), dst, yo + 1);
    }
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += MXFP4_BYTES, yo += 32) {
      const d = e8m0ToFp32Half(src[so]);
      for (let j = 0; j < 16; j++) {
        const q = src[so + 1 + j];
        y[yo + j] = fr(KVALUES_FP4_[q & 0xf] * d);
        y[yo + j + 16] = fr(KVALUES_FP4_[q >> 4] * d);
      }
    }
  },
};

export const NVFP4_CODEC: GgmlCodec = {
  type: GGMLType.NVFP4,
  quantizeRows(src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) {
    const nb = (nrows * nPerRow) / 64;
    for (let i = 0, xo = srcOffset, yo = dstOffset; i < nb; i++, yo += NVFP4_BYTES) {
      for (let s = 0; s < 4; s++, xo += 16) {
        const ue = fp32ToUe4m3(fr(absMax(src, xo, 16) / 6));
        dst[yo + s] = ue;
        packFp4(src, xo, 8, ue4m3ToFp32(ue), dst, yo + 4 + 8 * s);
      }
    }
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += NVFP4_BYTES) {
      for (let s = 0; s < 4; s++, yo += 16) {
        const d = ue4m3ToFp32(src[so + s]);
        for (let j = 0; j < 8; j++) {
          const q = src[so + 4 + 8 * s + j];
          y[yo + j] = fr(KVALUES_FP4_[q & 0xf] * d);
          y[yo + j + 8] = fr(KVALUES_FP4_[q >> 4] * d);
        }
      }
    }
  },
};
