/**
 * Q4_K (144 B per 256 elements): d:f16 | dmin:f16 | scales[12] (8 × 6-bit scale + 6-bit min) | qs[128].
 * Ported from ggml-quants.c: quantize_row_q4_K_ref (make_qkx2_quants per 32-element sub-block with weights
 * av_x + |x|), quantize_row_q4_K_impl (imatrix; make_qkx3_quants + make_qp_quants) and dequantize_row_q4_K.
 * The sub-block search is shared with Q5_K (kquantSubblocksRef / kquantSubblocksImatrix).
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { nearestInt } from "./float32-math.js";
import { QKX3_IMATRIX, makeQkxQuants, makeQpQuants, qkx2Search, type QkxSearch } from "./kquant-search.js";
import { QK_K, minK4, packScaleMinK4, scaleK4 } from "./kquant-layout.js";
import { imatrixWeights, sumOfSquares } from "./imatrix-weights.js";
import { forEachSuperBlock } from "./superblock-rows.js";

const fr = Math.fround;
const BLOCK_BYTES = 144;
const SCALES = 4;
const QS = 16;

/** Levels of the current super-block (shared with Q5_K: one block is quantized at a time). */
export const kLevels = new Uint8Array(QK_K);
const weights = new Float32Array(32);
const scales = new Float32Array(8);
const mins = new Float32Array(8);
const sw = new Float32Array(8);
const Ls = new Uint8Array(8);
const Lm = new Uint8Array(8);

/**
 * Reference path of quantize_row_q4_K_ref / q5_K_ref for one super-block: per sub-block search, then the 6-bit
 * scales/mins relative to the largest, d = max_scale/63 and dmin = max_min/63 as fp16 at y[yo], y[yo+2].
 */
/** What differs between Q4_K and Q5_K in the shared sub-block code. */
export interface KQuantSubblockParams {
  /** Largest level: 15 (4 bits) or 31 (5 bits). */
  readonly nmax: number;
  /** make_qkx2_quants settings of the reference path. */
  readonly refSearch: QkxSearch;
  /** Q5_K applies MIN(63, ·) to the imatrix path's uint8 scale levels; Q4_K does not. */
  readonly capAt63: boolean;
}

export const Q4_K_SUBBLOCKS: KQuantSubblockParams = { nmax: 15, refSearch: qkx2Search(-1, 0.1, 20, false), capAt63: false };

export function kquantSubblocksRef(x: Float32Array, xo: number, p: KQuantSubblockParams, y: Uint8Array, yo: number): void {
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const base = xo + 32 * j;
    const avX = fr(Math.sqrt(fr(sumOfSquares(x, base, 32) / 32)));
    for (let l = 0; l < 32; l++) weights[l] = fr(avX + Math.abs(x[base + l]));
    const scale = makeQkxQuants(32, p.nmax, x, base, weights, 0, kLevels, 32 * j, mins, j, p.refSearch);
    scales[j] = scale;
    if (scale > maxScale) maxScale = scale;
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    // uint8_t ls = nearest_int(...): wraps modulo 256, then MIN(63, ls)
    const ls = Math.min(63, nearestInt(fr(invScale * scales[j])) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * mins[j])) & 0xff);
    packScaleMinK4(y, yo + SCALES, j, ls, lm);
  }
  writeU16(y, yo, f32ToF16(fr(maxScale / 63)));
  writeU16(y, yo + 2, f32ToF16(fr(maxMin / 63)));
}

/**
 * imatrix path of quantize_row_q4_K_impl / q5_K_impl for one super-block: weights qw·sqrt(sigma2 + x²) with
 * sigma2 = 2·Σx²/256, make_qkx3_quants per sub-block, make_qp_quants over scales and mins.
 */
export function kquantSubblocksImatrix(x: Float32Array, xo: number, qw: Float32Array, qwo: number, p: KQuantSubblockParams, y: Uint8Array, yo: number): void {
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let j = 0; j < 8; j++) {
    const base = xo + 32 * j;
    sw[j] = imatrixWeights(x, base, qw, qwo + 32 * j, sigma2, 32, weights);
    scales[j] = makeQkxQuants(32, p.nmax, x, base, weights, 0, kLevels, 32 * j, mins, j, QKX3_IMATRIX);
  }
  const dBlock = makeQpQuants(8, 63, scales, Ls, sw);
  const mBlock = makeQpQuants(8, 63, mins, Lm, sw);
  // Q5_K applies MIN(63, ·) to the uint8 levels and Q4_K does not; they differ only if make_qp_quants stored a
  // negative level (wrapped to ≥ 193), which needs a negative sub-block scale
  for (let j = 0; j < 8; j++) {
    const ls = p.capAt63 ? Math.min(63, Ls[j]) : Ls[j];
    const lm = p.capAt63 ? Math.min(63, Lm[j]) : Lm[j];
    packScaleMinK4(y, yo + SCALES, j, ls, lm);
  }
  writeU16(y, yo, f32ToF16(dBlock));
  writeU16(y, yo + 2, f32ToF16(mBlock));
}

/** Requantizes kLevels against the fp16 d/dmin and the packed 6-bit scales/mins (skipping d·sc == 0). */
export function kquantRequantize(x: Float32Array, xo: number, nmax: number, y: Uint8Array, yo: number): void {
  const dAll = F16_TO_F32[readU16(y, yo)];
  const mAll = F16_TO_F32[readU16(y, yo + 2)];
  for (let j = 0; j < 8; j++) {
    const d = fr(dAll * scaleK4(y, yo + SCALES, j));
    if (d === 0) continue;
    const dm = fr(mAll * minK4(y, yo + SCALES, j));
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(fr(fr(x[xo + 32 * j + ii] + dm) / d));
      kLevels[32 * j + ii] = l < 0 ? 0 : l > nmax ? nmax : l;
    }
  }
}

export const Q4_K_CODEC: GgmlCodec = {
  type: GGMLType.Q4_K,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, BLOCK_BYTES, (xo, io, yo) => {
      if (imatrix === null) kquantSubblocksRef(src, xo, Q4_K_SUBBLOCKS, dst, yo);
      else kquantSubblocksImatrix(src, xo, imatrix, io, Q4_K_SUBBLOCKS, dst, yo);
      kquantRequantize(src, xo, 15, dst, yo);
      for (let j = 0, q = yo + QS; j < QK_K; j += 64, q += 32) {
        for (let l = 0; l < 32; l++) dst[q + l] = kLevels[j + l] | (kLevels[j + l + 32] << 4);
      }
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += BLOCK_BYTES) {
      const d = F16_TO_F32[readU16(src, so)];
      const min = F16_TO_F32[readU16(src, so + 2)];
      for (let j = 0, is = 0, q = so + QS; j < QK_K; j += 64, is += 2, q += 32) {
        const d1 = fr(d * scaleK4(src, so + SCALES, is));
        const m1 = fr(min * minK4(src, so + SCALES, is));
        const d2 = fr(d * scaleK4(src, so + SCALES, is + 1));
        const m2 = fr(min * minK4(src, so + SCALES, is + 1));
        for (let l = 0; l < 32; l++) y[yo++] = fr(fr(d1 * (src[q + l] & 0xf)) - m1);
        for (let l = 0; l < 32; l++) y[yo++] = fr(fr(d2 * (src[q + l] >> 4)) - m2);
      }
    }
  },
};
