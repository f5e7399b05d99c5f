/**
 * The 4-bit non-linear types, both quantized by ggml-quants.c's quantize_row_iq4_nl_impl with ntry = 7 (what
 * ggml_quantize_chunk calls through quantize_iq4_nl / quantize_iq4_xs, with or without an imatrix):
 * - IQ4_NL (18 B per 32): d:f16 | qs[16]; element j = kvalues_iq4nl[lo(qs[j])]·d, element j+16 the hi nibble.
 * - IQ4_XS (136 B per 256): d:f16 | scales_h:u16 | scales_l[4] | qs[128]; 8 sub-blocks of 32, each with a 6-bit
 *   scale ls (lo/hi nibble of scales_l[ib/2], bits 2ib…2ib+1 of scales_h) and y = d·(ls−32)·kvalues_iq4nl[q].
 * Without an imatrix the weights are x², with one qw·sqrtf(sigma2 + x²) where sigma2 = 2·Σx²/super_block_size.
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { GROUP_MAX_EPS, nearestInt } from "./float32-math.js";
import { imatrixWeights, sumOfSquares } from "./imatrix-weights.js";
import { KVALUES_IQ4NL } from "./iquant-tables.generated.js";
import { QK_K } from "./kquant-layout.js";
import { dequantizeSuperBlocks } from "./superblock-rows.js";

// module-local aliases: hot loops read these, not the imported bindings (which some loaders wrap in getters)
const KVALUES_IQ4NL_ = KVALUES_IQ4NL;

const fr = Math.fround;
const NTRY = 7;
const QK4_NL = 32;
const XS_BYTES = 136;

/**
 * best_index_int8: the index of the entry of the sorted `values` nearest to x (bisection; the upper one unless
 * x − v[mu−1] < v[mu] − x in float32).
 */
export function bestIndexInt8(n: number, values: Int8Array, x: number): number {
  if (x <= values[0]) return 0;
  if (x >= values[n - 1]) return n - 1;
  let ml = 0;
  let mu = n - 1;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < values[mav]) mu = mav;
    else ml = mav;
  }
  return fr(x - values[mu - 1]) < fr(values[mu] - x) ? mu - 1 : mu;
}

const L = new Uint8Array(QK_K);
const weight = new Float32Array(32);
const scales = new Float32Array(QK_K / 32);

/** Σ w·q·x and Σ w·q·q for sub-block xb…xb+32 at inverse scale id (levels into L at lo when `L` is given). */
function levelSums(x: Float32Array, xb: number, id: number, lo: number, keep: boolean, out: Float64Array): void {
  let sumqx = 0;
  let sumq2 = 0;
  for (let j = 0; j < 32; j++) {
    const l = bestIndexInt8(16, KVALUES_IQ4NL_, fr(id * x[xb + j]));
    if (keep) L[lo + j] = l;
    const q = KVALUES_IQ4NL_[l];
    const wq = fr(weight[j] * q);
    sumqx = fr(sumqx + fr(wq * x[xb + j]));
    sumq2 = fr(sumq2 + fr(wq * q));
  }
  out[0] = sumqx;
  out[1] = sumq2;
}

const sums = new Float64Array(2);

/**
 * quantize_row_iq4_nl_impl(super_block_size, 32, x, …, kvalues_iq4nl, qw, ntry = 7) for one super-block of
 * `sbs` elements at x[xo…] into y[yo…]: IQ4_NL when sbs = 32 (d then qs), IQ4_XS when sbs = 256.
 */
function quantizeSuperBlock(x: Float32Array, xo: number, sbs: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const nb = sbs / 32;
  const qs = nb > 1 ? yo + 8 : yo + 2;
  const sigma2 = fr(sumOfSquares(x, xo, sbs) * fr(2 / sbs));
  y.fill(0, qs, qs + sbs / 2);
  writeU16(y, yo, 0);
  let maxScale = 0;
  let amaxScale = 0;
  const v0 = KVALUES_IQ4NL_[0];
  for (let ib = 0; ib < nb; ib++) {
    const xb = xo + ib * 32;
    if (qw) imatrixWeights(x, xb, qw, qwo + ib * 32, sigma2, 32, weight);
    else for (let j = 0; j < 32; j++) weight[j] = fr(x[xb + j] * x[xb + j]);
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const ax = Math.abs(x[xb + j]);
      if (ax > amax) {
        amax = ax;
        max = x[xb + j];
      }
    }
    if (amax < GROUP_MAX_EPS) {
      scales[ib] = 0;
      continue;
    }
    let d = fr(-max / v0);
    levelSums(x, xb, fr(1 / d), ib * 32, true, sums);
    d = sums[1] > 0 ? fr(sums[0] / sums[1]) : 0;
    let best = fr(d * sums[0]);
    for (let itry = -NTRY; itry <= NTRY; itry++) {
      levelSums(x, xb, fr((itry + v0) / max), 0, false, sums);
      const [sumqx, sumq2] = sums;
      if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
        d = fr(sumqx / sumq2);
        best = fr(d * sumqx);
      }
    }
    scales[ib] = d;
    const absD = Math.abs(d);
    if (absD > amaxScale) {
      amaxScale = absD;
      maxScale = d;
    }
  }

  if (nb > 1) {
    y[yo + 2] = 0;
    y[yo + 3] = 0;
    let scalesH = 0;
    const d = fr(-maxScale / 32);
    writeU16(y, yo, f32ToF16(d));
    const id = d !== 0 ? fr(1 / d) : 0;
    for (let ib = 0; ib < nb; ib++) {
      let l = nearestInt(fr(id * scales[ib]));
      l = Math.max(-32, Math.min(31, l));
      const dl = fr(d * l);
      const idl = dl !== 0 ? fr(1 / dl) : 0;
      const xb = xo + ib * 32;
      for (let j = 0; j < 32; j++) L[ib * 32 + j] = bestIndexInt8(16, KVALUES_IQ4NL_, fr(idl * x[xb + j]));
      l += 32;
      const lLow = l & 0xf;
      if (ib % 2 === 0) y[yo + 4 + (ib >> 1)] = lLow;
      else y[yo + 4 + (ib >> 1)] |= lLow << 4;
      scalesH |= (l >> 4) << (2 * (ib % 8));
    }
    writeU16(y, yo + 2, scalesH);
  } else {
    writeU16(y, yo, f32ToF16(scales[0]));
    // ntry > 0: the levels are recomputed from the final scale
    const s = scales[0];
    const id = s !== 0 ? fr(1 / s) : 0;
    for (let j = 0; j < sbs; j++) L[j] = bestIndexInt8(16, KVALUES_IQ4NL_, fr(id * x[xo + j]));
  }
  for (let i = 0; i < sbs / 32; i++) {
    for (let j = 0; j < 16; j++) y[qs + 16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4);
  }
}

/** quantize_iq4_nl / quantize_iq4_xs: each row's super-blocks in order, the imatrix slice at the same offset in the row. */
function quantizeRowsOf(sbs: number, blockBytes: number): GgmlCodec["quantizeRows"] {
  return (src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) => {
    const nbRow = nPerRow / sbs;
    for (let r = 0; r < nrows; r++) {
      for (let i = 0; i < nbRow; i++) {
        quantizeSuperBlock(src, srcOffset + r * nPerRow + i * sbs, sbs, imatrix, i * sbs, dst, dstOffset + (r * nbRow + i) * blockBytes);
      }
    }
  };
}

export const IQ4_NL_CODEC: GgmlCodec = {
  type: GGMLType.IQ4_NL,
  quantizeRows: quantizeRowsOf(QK4_NL, 18),
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += 18, yo += QK4_NL) {
      const d = F16_TO_F32[readU16(src, so)];
      for (let j = 0; j < 16; j++) {
        const q = src[so + 2 + j];
        y[yo + j] = fr(d * KVALUES_IQ4NL_[q & 0xf]);
        y[yo + j + 16] = fr(d * KVALUES_IQ4NL_[q >> 4]);
      }
    }
  },
};

export const IQ4_XS_CODEC: GgmlCodec = {
  type: GGMLType.IQ4_XS,
  quantizeRows: quantizeRowsOf(QK_K, XS_BYTES),
  dequantizeBlocks: dequantizeSuperBlocks(XS_BYTES, 0, (src, so, d, y, yo) => {
    const scalesH = readU16(src, so + 2);
    for (let ib = 0, qs = so + 8; ib < QK_K / 32; ib++, qs += 16, yo += 32) {
      const ls = ((src[so + 4 + (ib >> 1)] >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      for (let j = 0; j < 16; j++) {
        y[yo + j] = fr(dl * KVALUES_IQ4NL_[src[qs + j] & 0xf]);
        y[yo + j + 16] = fr(dl * KVALUES_IQ4NL_[src[qs + j] >> 4]);
      }
    }
  }),
};
