/**
 * Q3_K (110 B per 256 elements): hmask[32] | qs[64] (low 2 bits) | scales[12] (sixteen 6-bit, +32) | d:f16.
 * Ported from ggml-quants.c: quantize_row_q3_K_ref (make_q3_quants per 16-element sub-block, scales relative to
 * the largest |scale|), quantize_row_q3_K_impl (imatrix; make_qx_quants with weights qw·sqrt(sigma2 + x²), then
 * make_qx_quants over the scales) and dequantize_row_q3_K.
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { maxByMagnitude, nearestInt, toInt8 } from "./float32-math.js";
import { makeQ3Quants, makeQxQuants } from "./kquant-search.js";
import { QK_K, pack2Bit, packScaleQ3K, scaleQ3K } from "./kquant-layout.js";
import { imatrixWeights, sumOfSquares } from "./imatrix-weights.js";
import { forEachSuperBlock } from "./superblock-rows.js";

const fr = Math.fround;
const BLOCK_BYTES = 110;
const QS = 32;
const SCALES = 96;
const D = 108;

const L = new Uint8Array(QK_K);
const weights = new Float32Array(16);
const scales = new Float32Array(16);
const sw = new Float32Array(16);
const Ls = new Uint8Array(16);

/** Requantizes against the fp16 d and the packed scales, then writes hmask and qs. */
function requantizeAndPack(x: Float32Array, xo: number, y: Uint8Array, yo: number): void {
  const dAll = F16_TO_F32[readU16(y, yo + D)];
  for (let j = 0; j < 16; j++) {
    const d = fr(dAll * (scaleQ3K(y, yo + SCALES, j) - 32));
    if (d === 0) continue;
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(fr(x[xo + 16 * j + ii] / d));
      L[16 * j + ii] = (l < -4 ? -4 : l > 3 ? 3 : l) + 4;
    }
  }
  // high bit of element j goes to hmask[j % 32], bit j / 32
  y.fill(0, yo, yo + 32);
  for (let j = 0; j < QK_K; j++) {
    if (L[j] > 3) {
      y[yo + (j & 31)] |= 1 << (j >> 5);
      L[j] -= 4;
    }
  }
  pack2Bit(L, y, yo + QS);
}

function quantizeBlockRef(x: Float32Array, xo: number, y: Uint8Array, yo: number): void {
  for (let j = 0; j < 16; j++) scales[j] = makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j);
  const maxScale = maxByMagnitude(scales, 0, 16);
  y.fill(0, yo + SCALES, yo + SCALES + 12);
  if (maxScale !== 0) {
    const iscale = fr(-32 / maxScale);
    for (let j = 0; j < 16; j++) {
      let l = toInt8(nearestInt(fr(iscale * scales[j])));
      l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      packScaleQ3K(y, yo + SCALES, j, l);
    }
    writeU16(y, yo + D, f32ToF16(fr(1 / iscale)));
  } else {
    writeU16(y, yo + D, 0);
  }
  requantizeAndPack(x, xo, y, yo);
}

function quantizeBlockImatrix(x: Float32Array, xo: number, qw: Float32Array, qwo: number, y: Uint8Array, yo: number): void {
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let j = 0; j < 16; j++) {
    sw[j] = imatrixWeights(x, xo + 16 * j, qw, qwo + 16 * j, sigma2, 16, weights);
    scales[j] = makeQxQuants(16, 4, x, xo + 16 * j, L, 16 * j, weights, 0);
  }
  y.fill(0, yo + SCALES, yo + SCALES + 12);
  const dBlock = makeQxQuants(16, 32, scales, 0, Ls, 0, sw, 0);
  for (let j = 0; j < 16; j++) packScaleQ3K(y, yo + SCALES, j, Ls[j]);
  writeU16(y, yo + D, f32ToF16(dBlock));
  requantizeAndPack(x, xo, y, yo);
}

export const Q3_K_CODEC: GgmlCodec = {
  type: GGMLType.Q3_K,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, BLOCK_BYTES, (xo, io, yo) => {
      if (imatrix === null) quantizeBlockRef(src, xo, dst, yo);
      else quantizeBlockImatrix(src, xo, imatrix, io, dst, yo);
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += BLOCK_BYTES) {
      const dAll = F16_TO_F32[readU16(src, so + D)];
      let is = 0;
      let m = 1;
      for (let n = 0; n < QK_K; n += 128) {
        const q = so + QS + n / 4;
        for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
          for (let half = 0; half < 32; half += 16) {
            const dl = fr(dAll * (scaleQ3K(src, so + SCALES, is++) - 32));
            for (let l = 0; l < 16; l++) {
              const low = (src[q + half + l] >> shift) & 3;
              const hi = (src[so + half + l] & m) !== 0 ? 0 : 4;
              y[yo++] = fr(dl * (low - hi));
            }
          }
        }
      }
    }
  },
};
