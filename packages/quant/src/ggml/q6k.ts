/**
 * Q6_K (210 B per 256 elements): ql[128] (low 4 bits) | qh[64] (high 2 bits) | scales[16] int8 | d:f16.
 * Ported from ggml-quants.c: quantize_row_q6_K_ref (make_qx_quants per 16-element sub-block with x² weights),
 * quantize_row_q6_K_impl (same search weighted by the raw imatrix slice; no sigma2 term) and dequantize_row_q6_K.
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { GROUP_MAX_EPS, maxByMagnitude, nearestInt } from "./float32-math.js";
import { makeQxQuants } from "./kquant-search.js";
import { QK_K } from "./kquant-layout.js";
import { forEachSuperBlock } from "./superblock-rows.js";

const fr = Math.fround;
const BLOCK_BYTES = 210;
const QH = 128;
const SCALES = 192;
const D = 208;

const L = new Uint8Array(QK_K);
const scales = new Float32Array(16);

function quantizeBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  for (let ib = 0; ib < 16; ib++) scales[ib] = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib, qw, qwo + 16 * ib);
  const maxScale = maxByMagnitude(scales, 0, 16);
  if (Math.abs(maxScale) < GROUP_MAX_EPS) {
    y.fill(0, yo, yo + BLOCK_BYTES);
    return;
  }
  const iscale = fr(-128 / maxScale);
  writeU16(y, yo + D, f32ToF16(fr(1 / iscale)));
  for (let ib = 0; ib < 16; ib++) y[yo + SCALES + ib] = Math.min(127, nearestInt(fr(iscale * scales[ib])));
  const dAll = F16_TO_F32[readU16(y, yo + D)];
  for (let j = 0; j < 16; j++) {
    const d = fr(dAll * ((y[yo + SCALES + j] << 24) >> 24));
    if (d === 0) continue;
    for (let ii = 0; ii < 16; ii++) {
      const l = nearestInt(fr(x[xo + 16 * j + ii] / d));
      L[16 * j + ii] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
    }
  }
  for (let j = 0, ql = yo, qh = yo + QH; j < QK_K; j += 128, ql += 64, qh += 32) {
    for (let l = 0; l < 32; l++) {
      const a = L[j + l];
      const b = L[j + l + 32];
      const c = L[j + l + 64];
      const e = L[j + l + 96];
      y[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
      y[ql + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
      y[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
    }
  }
}

export const Q6_K_CODEC: GgmlCodec = {
  type: GGMLType.Q6_K,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, BLOCK_BYTES, (xo, io, yo) => quantizeBlock(src, xo, imatrix, io, dst, yo));
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += BLOCK_BYTES) {
      const d = F16_TO_F32[readU16(src, so + D)];
      for (let n = 0, ql = so, qh = so + QH, sc = so + SCALES; n < QK_K; n += 128, ql += 64, qh += 32, sc += 8, yo += 128) {
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const h = src[qh + l];
          const q1 = ((src[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
          const q2 = ((src[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
          const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
          const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
          y[yo + l] = fr(fr(d * ((src[sc + is] << 24) >> 24)) * q1);
          y[yo + l + 32] = fr(fr(d * ((src[sc + is + 2] << 24) >> 24)) * q2);
          y[yo + l + 64] = fr(fr(d * ((src[sc + is + 4] << 24) >> 24)) * q3);
          y[yo + l + 96] = fr(fr(d * ((src[sc + is + 6] << 24) >> 24)) * q4);
        }
      }
    }
  },
};
