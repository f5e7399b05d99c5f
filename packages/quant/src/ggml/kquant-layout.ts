/**
 * Bit layouts shared by several K-quant blocks (ggml-common.h / ggml-quants.c): the 6-bit scale+min packing of
 * Q4_K/Q5_K (12 bytes for 8 sub-blocks; get_scale_min_k4 is its inverse), the 6-bit scale packing of Q3_K, and
 * the 2-bit quant packing of Q2_K/Q3_K (byte 32n+l holds elements 128n+l, +32, +64, +96 at shifts 0, 2, 4, 6).
 */

export const QK_K = 256;

/** Packs sub-block j's 6-bit scale `ls` and min `lm` into the 12 scale bytes at y[off…] (j in order 0…7). */
export function packScaleMinK4(y: Uint8Array, off: number, j: number, ls: number, lm: number): void {
  if (j < 4) {
    y[off + j] = ls;
    y[off + j + 4] = lm;
  } else {
    y[off + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
    y[off + j - 4] |= (ls >> 4) << 6;
    y[off + j] |= (lm >> 4) << 6;
  }
}

/** get_scale_min_k4: sub-block j's 6-bit scale. */
export function scaleK4(q: Uint8Array, off: number, j: number): number {
  return j < 4 ? q[off + j] & 63 : (q[off + j + 4] & 0xf) | ((q[off + j - 4] >> 6) << 4);
}

/** get_scale_min_k4: sub-block j's 6-bit min. */
export function minK4(q: Uint8Array, off: number, j: number): number {
  return j < 4 ? q[off + j + 4] & 63 : (q[off + j + 4] >> 4) | ((q[off + j] >> 6) << 4);
}

/** Packs Q3_K's sixteen 6-bit scales (already offset by +32) into 12 bytes; `y[off…off+12)` must start zeroed. */
export function packScaleQ3K(y: Uint8Array, off: number, j: number, l: number): void {
  if (j < 8) y[off + j] = l & 0xf;
  else y[off + j - 8] |= (l & 0xf) << 4;
  y[off + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
}

/** Q3_K sub-block j's 6-bit scale as stored (0…63; subtract 32 for the signed value). */
export function scaleQ3K(q: Uint8Array, off: number, j: number): number {
  const lo = j < 8 ? q[off + j] & 0xf : q[off + j - 8] >> 4;
  return lo | (((q[off + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4);
}

/** 2-bit packing of 256 levels (0…3) from L into 64 bytes at y[off…]. */
export function pack2Bit(L: Uint8Array, y: Uint8Array, off: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      y[off + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
    }
  }
}
