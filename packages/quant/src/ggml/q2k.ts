/**
 * Q2_K (84 B per 256 elements): scales[16] (lo nibble = 4-bit scale, hi = 4-bit min) | qs[64] | d:f16 | dmin:f16.
 * Ported from ggml-quants.c: quantize_row_q2_K_ref (no imatrix; make_qkx2_quants with |x| weights and MAD error),
 * quantize_row_q2_K_impl (imatrix; make_qkx3_quants + make_qp_quants over the sub-block scales and mins) and
 * dequantize_row_q2_K. Sub-blocks whose requantization scale is 0 keep the search's levels, as in C.
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { nearestInt } from "./float32-math.js";
import { QKX3_IMATRIX, makeQkxQuants, makeQpQuants, qkx2Search } from "./kquant-search.js";
import { QK_K, pack2Bit } from "./kquant-layout.js";
import { imatrixWeights, sumOfSquares } from "./imatrix-weights.js";
import { forEachSuperBlock } from "./superblock-rows.js";

const fr = Math.fround;
const BLOCK_BYTES = 84;
const QS = 16;
const D = 80;
const DMIN = 82;
/** make_qkx2_quants(16, 3, …, -0.5, 0.1, 15, true) of quantize_row_q2_K_ref. */
const Q2_K_REF_SEARCH = qkx2Search(-0.5, 0.1, 15, true);

const L = new Uint8Array(QK_K);
const weights = new Float32Array(16);
const scales = new Float32Array(16);
const mins = new Float32Array(16);
const sw = new Float32Array(16);
const Ls = new Uint8Array(16);
const Lm = new Uint8Array(16);

/** Requantizes every sub-block against the fp16-rounded d/dmin (skipping d·sc == 0) and packs qs. */
function requantizeAndPack(x: Float32Array, xo: number, y: Uint8Array, yo: number): void {
  const dAll = F16_TO_F32[readU16(y, yo + D)];
  const mAll = F16_TO_F32[readU16(y, yo + DMIN)];
  for (let j = 0; j < 16; j++) {
    const sc = y[yo + j];
    const d = fr(dAll * (sc & 0xf));
    if (d === 0) continue;
    const m = fr(mAll * (sc >> 4));
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(fr(fr(x[xo + 16 * j + ii] + m) / d));
      L[16 * j + ii] = l < 0 ? 0 : l > 3 ? 3 : l;
    }
  }
  pack2Bit(L, y, yo + QS);
}

function quantizeBlockRef(x: Float32Array, xo: number, y: Uint8Array, yo: number): void {
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 16; j++) {
    for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]);
    const scale = makeQkxQuants(16, 3, x, xo + 16 * j, weights, 0, L, 16 * j, mins, j, Q2_K_REF_SEARCH);
    scales[j] = scale;
    if (scale > maxScale) maxScale = scale;
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  if (maxScale > 0) {
    const iscale = fr(15 / maxScale);
    for (let j = 0; j < 16; j++) y[yo + j] = nearestInt(fr(iscale * scales[j]));
    writeU16(y, yo + D, f32ToF16(fr(maxScale / 15)));
  } else {
    for (let j = 0; j < 16; j++) y[yo + j] = 0;
    writeU16(y, yo + D, 0);
  }
  if (maxMin > 0) {
    const iscale = fr(15 / maxMin);
    for (let j = 0; j < 16; j++) y[yo + j] |= nearestInt(fr(iscale * mins[j])) << 4;
    writeU16(y, yo + DMIN, f32ToF16(fr(maxMin / 15)));
  } else {
    writeU16(y, yo + DMIN, 0);
  }
  requantizeAndPack(x, xo, y, yo);
}

function quantizeBlockImatrix(x: Float32Array, xo: number, qw: Float32Array, qwo: number, y: Uint8Array, yo: number): void {
  const sigma2 = fr(sumOfSquares(x, xo, QK_K) / QK_K);
  for (let j = 0; j < 16; j++) {
    sw[j] = imatrixWeights(x, xo + 16 * j, qw, qwo + 16 * j, sigma2, 16, weights);
    scales[j] = makeQkxQuants(16, 3, x, xo + 16 * j, weights, 0, L, 16 * j, mins, j, QKX3_IMATRIX);
  }
  const dm = makeQpQuants(16, 15, scales, Ls, sw);
  const mm = makeQpQuants(16, 15, mins, Lm, sw);
  writeU16(y, yo + D, f32ToF16(dm));
  writeU16(y, yo + DMIN, f32ToF16(mm));
  for (let j = 0; j < 16; j++) y[yo + j] = Ls[j] | (Lm[j] << 4);
  requantizeAndPack(x, xo, y, yo);
}

export const Q2_K_CODEC: GgmlCodec = {
  type: GGMLType.Q2_K,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, BLOCK_BYTES, (xo, io, yo) => {
      if (imatrix === null) quantizeBlockRef(src, xo, dst, yo);
      else quantizeBlockImatrix(src, xo, imatrix, io, dst, yo);
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += BLOCK_BYTES) {
      const d = F16_TO_F32[readU16(src, so + D)];
      const min = F16_TO_F32[readU16(src, so + DMIN)];
      let is = 0;
      for (let n = 0; n < QK_K; n += 128) {
        const q = so + QS + n / 4;
        for (let shift = 0; shift < 8; shift += 2) {
          for (let half = 0; half < 32; half += 16) {
            const sc = src[so + is++];
            const dl = fr(d * (sc & 0xf));
            const ml = fr(min * (sc >> 4));
            for (let l = 0; l < 16; l++) y[yo++] = fr(fr(dl * ((src[q + half + l] >> shift) & 3)) - ml);
          }
        }
      }
    }
  },
};
