/**
 * ggml's 32-element "legacy" block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, ported from ggml-quants.c:
 * quantize_row_q*_ref (no imatrix: one flat pass over every block of the chunk, quants computed with the
 * unrounded float32 d), quantize_row_q*_impl (imatrix: per row, weights qw·sqrt(sigma2 + x²) with sigma2 the
 * row's mean square, levels from make_qx_quants / make_qkx3_quants packed directly), and dequantize_row_q*.
 * Q8_0 ignores the imatrix, as quantize_q8_0 does.
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { cvttToInt32, maxByMagnitude, roundHalfAway, toInt8 } from "./float32-math.js";
import { QKX3_IMATRIX, makeQkxQuants, makeQxQuants } from "./kquant-search.js";
import { imatrixWeights, sumOfSquares } from "./imatrix-weights.js";

const fr = Math.fround;
const QK = 32;
const FLT_MAX = 3.4028234663852886e38;

const weight = new Float32Array(QK);
const L = new Uint8Array(QK);
const theMin = new Float32Array(1);

/**
 * The imatrix walk of quantize_row_q*_impl: per row its sigma2 (Σx² / n_per_row), then per 32-element block the
 * weights qw·sqrtf(sigma2 + x²) into `weight` and `quantizeBlock` with the block's source offset and its
 * destination offset (blocks `blockBytes` apart).
 */
function forEachWeightedBlock(
  x: Float32Array,
  xOffset: number,
  nrows: number,
  nPerRow: number,
  qw: Float32Array,
  yOffset: number,
  blockBytes: number,
  quantizeBlock: (xb: number, yo: number) => void,
): void {
  for (let r = 0, yo = yOffset; r < nrows; r++) {
    const xr = xOffset + r * nPerRow;
    const sigma2 = fr(sumOfSquares(x, xr, nPerRow) / nPerRow);
    for (let ib = 0; ib < nPerRow / QK; ib++, yo += blockBytes) {
      imatrixWeights(x, xr + ib * QK, qw, ib * QK, sigma2, QK, weight);
      quantizeBlock(xr + ib * QK, yo);
    }
  }
}

// ---------------------------------------------------------------- Q4_0: d:f16 | qs[16] (lo nibble = j, hi = j+16)

function q4_0RefBlocks(x: Float32Array, xo: number, nb: number, y: Uint8Array, yo: number): void {
  for (let i = 0; i < nb; i++, xo += QK, yo += 18) {
    const max = maxByMagnitude(x, xo, QK);
    const d = fr(max / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeU16(y, yo, f32ToF16(d));
    for (let j = 0; j < 16; j++) {
      const x0 = fr(x[xo + j] * id);
      const x1 = fr(x[xo + 16 + j] * id);
      const xi0 = Math.min(15, toInt8(cvttToInt32(fr(x0 + 8.5)))) & 0xff;
      const xi1 = Math.min(15, toInt8(cvttToInt32(fr(x1 + 8.5)))) & 0xff;
      y[yo + 2 + j] = xi0 | (xi1 << 4);
    }
  }
}

export const Q4_0_CODEC: GgmlCodec = {
  type: GGMLType.Q4_0,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    if (imatrix === null) {
      q4_0RefBlocks(src, srcOffset, (nrows * nPerRow) / QK, dst, dstOffset);
      return;
    }
    forEachWeightedBlock(src, srcOffset, nrows, nPerRow, imatrix, dstOffset, 18, (xb, yo) => {
      const d = makeQxQuants(QK, 8, src, xb, L, 0, weight, 0);
      writeU16(dst, yo, f32ToF16(d));
      for (let j = 0; j < 16; j++) dst[yo + 2 + j] = L[j] | (L[j + 16] << 4);
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += 18, yo += QK) {
      const d = F16_TO_F32[readU16(src, so)];
      for (let j = 0; j < 16; j++) {
        const q = src[so + 2 + j];
        y[yo + j] = fr(((q & 0x0f) - 8) * d);
        y[yo + j + 16] = fr(((q >> 4) - 8) * d);
      }
    }
  },
};

// ---------------------------------------------------------------- Q4_1: d:f16 | m:f16 | qs[16]

function q4_1RefBlocks(x: Float32Array, xo: number, nb: number, y: Uint8Array, yo: number): void {
  for (let i = 0; i < nb; i++, xo += QK, yo += 20) {
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = 0; j < QK; j++) {
      const v = x[xo + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / 15);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeU16(y, yo, f32ToF16(d));
    writeU16(y, yo + 2, f32ToF16(min));
    for (let j = 0; j < 16; j++) {
      const x0 = fr(fr(x[xo + j] - min) * id);
      const x1 = fr(fr(x[xo + 16 + j] - min) * id);
      const xi0 = Math.min(15, toInt8(cvttToInt32(fr(x0 + 0.5)))) & 0xff;
      const xi1 = Math.min(15, toInt8(cvttToInt32(fr(x1 + 0.5)))) & 0xff;
      y[yo + 4 + j] = xi0 | (xi1 << 4);
    }
  }
}

export const Q4_1_CODEC: GgmlCodec = {
  type: GGMLType.Q4_1,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    if (imatrix === null) {
      q4_1RefBlocks(src, srcOffset, (nrows * nPerRow) / QK, dst, dstOffset);
      return;
    }
    forEachWeightedBlock(src, srcOffset, nrows, nPerRow, imatrix, dstOffset, 20, (xb, yo) => {
      const d = makeQkxQuants(QK, 15, src, xb, weight, 0, L, 0, theMin, 0, QKX3_IMATRIX);
      writeU16(dst, yo, f32ToF16(d));
      writeU16(dst, yo + 2, f32ToF16(-theMin[0]));
      for (let j = 0; j < 16; j++) dst[yo + 4 + j] = L[j] | (L[j + 16] << 4);
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += 20, yo += QK) {
      const d = F16_TO_F32[readU16(src, so)];
      const m = F16_TO_F32[readU16(src, so + 2)];
      for (let j = 0; j < 16; j++) {
        const q = src[so + 4 + j];
        y[yo + j] = fr(fr((q & 0x0f) * d) + m);
        y[yo + j + 16] = fr(fr((q >> 4) * d) + m);
      }
    }
  },
};

// ---------------------------------------------------------------- Q5_0: d:f16 | qh[4] (u32 LE) | qs[16]

/** Packs the 32 five-bit levels in L into qs (low nibbles; j and j+16 share a byte) and qh (bit j = bit 4 of j). */
function pack5(y: Uint8Array, qhOff: number, qsOff: number): void {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const xi0 = L[j];
    const xi1 = L[j + 16];
    y[qsOff + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
    qh |= ((xi0 & 0x10) >>> 4) << j;
    qh |= ((xi1 & 0x10) >>> 4) << (j + 16);
  }
  y[qhOff] = qh & 0xff;
  y[qhOff + 1] = (qh >>> 8) & 0xff;
  y[qhOff + 2] = (qh >>> 16) & 0xff;
  y[qhOff + 3] = (qh >>> 24) & 0xff;
}

function q5_0RefBlocks(x: Float32Array, xo: number, nb: number, y: Uint8Array, yo: number): void {
  for (let i = 0; i < nb; i++, xo += QK, yo += 22) {
    const max = maxByMagnitude(x, xo, QK);
    const d = fr(max / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeU16(y, yo, f32ToF16(d));
    for (let j = 0; j < QK; j++) L[j] = Math.min(31, toInt8(cvttToInt32(fr(fr(x[xo + j] * id) + 16.5))));
    pack5(y, yo + 2, yo + 6);
  }
}

export const Q5_0_CODEC: GgmlCodec = {
  type: GGMLType.Q5_0,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    if (imatrix === null) {
      q5_0RefBlocks(src, srcOffset, (nrows * nPerRow) / QK, dst, dstOffset);
      return;
    }
    forEachWeightedBlock(src, srcOffset, nrows, nPerRow, imatrix, dstOffset, 22, (xb, yo) => {
      const d = makeQxQuants(QK, 16, src, xb, L, 0, weight, 0);
      writeU16(dst, yo, f32ToF16(d));
      pack5(dst, yo + 2, yo + 6);
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += 22, yo += QK) {
      const d = F16_TO_F32[readU16(src, so)];
      const qh = (src[so + 2] | (src[so + 3] << 8) | (src[so + 4] << 16) | (src[so + 5] << 24)) >>> 0;
      for (let j = 0; j < 16; j++) {
        const q = src[so + 6 + j];
        const xh0 = ((qh >>> j) << 4) & 0x10;
        const xh1 = (qh >>> (j + 12)) & 0x10;
        y[yo + j] = fr((((q & 0x0f) | xh0) - 16) * d);
        y[yo + j + 16] = fr((((q >> 4) | xh1) - 16) * d);
      }
    }
  },
};

// ---------------------------------------------------------------- Q5_1: d:f16 | m:f16 | qh[4] | qs[16]

function q5_1RefBlocks(x: Float32Array, xo: number, nb: number, y: Uint8Array, yo: number): void {
  for (let i = 0; i < nb; i++, xo += QK, yo += 24) {
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = 0; j < QK; j++) {
      const v = x[xo + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / 31);
    const id = d !== 0 ? fr(1 / d) : 0;
    writeU16(y, yo, f32ToF16(d));
    writeU16(y, yo + 2, f32ToF16(min));
    // (uint8_t)(x0 + 0.5f): truncation, no clamp to 31 (as in C)
    for (let j = 0; j < QK; j++) L[j] = cvttToInt32(fr(fr(fr(x[xo + j] - min) * id) + 0.5));
    pack5(y, yo + 4, yo + 8);
  }
}

export const Q5_1_CODEC: GgmlCodec = {
  type: GGMLType.Q5_1,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    if (imatrix === null) {
      q5_1RefBlocks(src, srcOffset, (nrows * nPerRow) / QK, dst, dstOffset);
      return;
    }
    forEachWeightedBlock(src, srcOffset, nrows, nPerRow, imatrix, dstOffset, 24, (xb, yo) => {
      const d = makeQkxQuants(QK, 31, src, xb, weight, 0, L, 0, theMin, 0, QKX3_IMATRIX);
      writeU16(dst, yo, f32ToF16(d));
      writeU16(dst, yo + 2, f32ToF16(-theMin[0]));
      pack5(dst, yo + 4, yo + 8);
    });
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += 24, yo += QK) {
      const d = F16_TO_F32[readU16(src, so)];
      const m = F16_TO_F32[readU16(src, so + 2)];
      const qh = (src[so + 4] | (src[so + 5] << 8) | (src[so + 6] << 16) | (src[so + 7] << 24)) >>> 0;
      for (let j = 0; j < 16; j++) {
        const q = src[so + 8 + j];
        const xh0 = ((qh >>> j) << 4) & 0x10;
        const xh1 = (qh >>> (j + 12)) & 0x10;
        y[yo + j] = fr(fr(((q & 0x0f) | xh0) * d) + m);
        y[yo + j + 16] = fr(fr(((q >> 4) | xh1) * d) + m);
      }
    }
  },
};

// ---------------------------------------------------------------- Q8_0: d:f16 | qs[32] int8

export const Q8_0_CODEC: GgmlCodec = {
  type: GGMLType.Q8_0,
  quantizeRows(src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) {
    // quantize_q8_0 ignores quant_weights: always the reference path over the whole chunk
    const nb = (nrows * nPerRow) / QK;
    for (let i = 0, xo = srcOffset, yo = dstOffset; i < nb; i++, xo += QK, yo += 34) {
      let amax = 0;
      for (let j = 0; j < QK; j++) {
        const a = Math.abs(src[xo + j]);
        amax = amax > a ? amax : a;
      }
      const d = fr(amax / 127);
      const id = d !== 0 ? fr(1 / d) : 0;
      writeU16(dst, yo, f32ToF16(d));
      for (let j = 0; j < QK; j++) dst[yo + 2 + j] = cvttToInt32(roundHalfAway(fr(src[xo + j] * id))) & 0xff;
    }
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += 34, yo += QK) {
      const d = F16_TO_F32[readU16(src, so)];
      for (let j = 0; j < QK; j++) y[yo + j] = fr(((src[so + 2 + j] << 24) >> 24) * d);
    }
  },
};
