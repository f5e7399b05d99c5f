/**
 * Q5_K (176 B per 256 elements): d:f16 | dmin:f16 | scales[12] | qh[32] | qs[128]. Same scale/min search as
 * Q4_K with 31 levels (ref: make_qkx2_quants rmin −0.5, 15 steps); the 5th bit of chunk c's low-nibble element
 * l goes to qh[l] bit 2c, the high-nibble element's to bit 2c+1. Ported from ggml-quants.c quantize_row_q5_K_ref,
 * quantize_row_q5_K_impl and dequantize_row_q5_K.
 */
import { GGMLType, F16_TO_F32 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16 } from "./codec.js";
import { QK_K, minK4, scaleK4 } from "./kquant-layout.js";
import { forEachSuperBlock } from "./superblock-rows.js";
import { kLevels, kquantRequantize, kquantSubblocksImatrix, kquantSubblocksRef, type KQuantSubblockParams } from "./q4k.js";
import { qkx2Search } from "./kquant-search.js";

const fr = Math.fround;
const BLOCK_BYTES = 176;
const SCALES = 4;
const QH = 16;
const QS = 48;
const Q5_K_SUBBLOCKS: KQuantSubblockParams = { nmax: 31, refSearch: qkx2Search(-0.5, 0.1, 15, false), capAt63: true };

export const Q5_K_CODEC: GgmlCodec = {
  type: GGMLType.Q5_K,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, BLOCK_BYTES, (xo, io, yo) => {
      if (imatrix === null) kquantSubblocksRef(src, xo, Q5_K_SUBBLOCKS, dst, yo);
      else kquantSubblocksImatrix(src, xo, imatrix, io, Q5_K_SUBBLOCKS, dst, yo);
      kquantRequantize(src, xo, 31, dst, yo);
      dst.fill(0, yo + QH, yo + QH + 32);
      for (let n = 0, m1 = 1, m2 = 2, ql = yo + QS; n < QK_K; n += 64, m1 <<= 2, m2 <<= 2, ql += 32) {
        for (let j = 0; j < 32; j++) {
          let l1 = kLevels[n + j];
          if (l1 > 15) {
            l1 -= 16;
            dst[yo + QH + j] |= m1;
          }
          let l2 = kLevels[n + j + 32];
          if (l2 > 15) {
            l2 -= 16;
            dst[yo + QH + j] |= m2;
          }
          dst[ql + j] = l1 | (l2 << 4);
        }
      }
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += BLOCK_BYTES) {
      const d = F16_TO_F32[readU16(src, so)];
      const min = F16_TO_F32[readU16(src, so + 2)];
      for (let j = 0, is = 0, ql = so + QS, u1 = 1, u2 = 2; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        const d1 = fr(d * scaleK4(src, so + SCALES, is));
        const m1 = fr(min * minK4(src, so + SCALES, is));
        const d2 = fr(d * scaleK4(src, so + SCALES, is + 1));
        const m2 = fr(min * minK4(src, so + SCALES, is + 1));
        for (let l = 0; l < 32; l++) y[yo++] = fr(fr(d1 * ((src[ql + l] & 0xf) + ((src[so + QH + l] & u1) !== 0 ? 16 : 0))) - m1);
        for (let l = 0; l < 32; l++) y[yo++] = fr(fr(d2 * ((src[ql + l] >> 4) + ((src[so + QH + l] & u2) !== 0 ? 16 : 0))) - m2);
      }
    }
  },
};
