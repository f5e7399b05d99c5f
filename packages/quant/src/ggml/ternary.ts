/**
 * The ternary types (values −1, 0, 1 times one fp16 scale per 256), ported from ggml-quants.c
 * quantize_row_tq1_0_ref / quantize_row_tq2_0_ref (ggml_quantize_chunk ignores the imatrix) and dequantize_row_tq*:
 * - TQ1_0 (54 B): qs[48] (5 trits per byte, ceiling-scaled by 256/243) | qh[4] (4 trits per byte) | d:f16.
 * - TQ2_0 (66 B): qs[64] (4 two-bit values per byte) | d:f16.
 * d = max |x| (not rounded through fp16 for the levels), level = lroundf(x/d) + 1.
 */
import { GGMLType, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { writeU16 } from "./codec.js";
import { QK_K } from "./kquant-layout.js";
import { dequantizeSuperBlocks } from "./superblock-rows.js";

const fr = Math.fround;
const TQ1_BYTES = 54;
const TQ2_BYTES = 66;
const TWO_POW_63 = 9223372036854775808;

/**
 * (int)lroundf(v) as glibc on x86-64 computes it: half away from zero, and for NaN, ±inf and |v| ≥ 2^63 the
 * (long) conversion's LONG_MIN, whose low 32 bits are 0.
 */
function lroundfToInt(v: number): number {
  if (!(Math.abs(v) < TWO_POW_63)) return 0;
  return (v >= 0 ? Math.floor(v + 0.5) : -Math.floor(0.5 - v)) | 0;
}

/** max |x| over a super-block as MAX(amax, fabsf(v)) finds it (a NaN sticks) and its float32 inverse (0 for 0). */
function absMaxAndInverse(x: Float32Array, xo: number): [number, number] {
  let amax = 0;
  for (let j = 0; j < QK_K; j++) {
    const a = Math.abs(x[xo + j]);
    amax = amax > a ? amax : a;
  }
  return [amax, amax !== 0 ? fr(1 / amax) : 0];
}

/** `count` trits x[xo + m + n·stride] (n < count), most significant first, packed base 3 then scaled by 256/243 (ceiling). */
function packTrits(x: Float32Array, xo: number, stride: number, count: number, id: number): number {
  let q = 0;
  for (let n = 0; n < count; n++) q = (q * 3 + lroundfToInt(fr(x[xo + n * stride] * id)) + 1) & 0xff;
  if (count === 4) q = (q * 3) & 0xff;
  return Math.floor((q * 256 + 242) / 243) & 0xff;
}

function quantizeTq1Block(x: Float32Array, xo: number, y: Uint8Array, yo: number): void {
  const [d, id] = absMaxAndInverse(x, xo);
  writeU16(y, yo + 52, f32ToF16(d));
  // qs[0…32): 5 trits each, strided by 32; qs[32…48): strided by 16; qh[4]: 4 trits strided by 4
  for (let m = 0; m < 32; m++) y[yo + m] = packTrits(x, xo + m, 32, 5, id);
  for (let m = 0; m < 16; m++) y[yo + 32 + m] = packTrits(x, xo + 160 + m, 16, 5, id);
  for (let j = 0; j < 4; j++) y[yo + 48 + j] = packTrits(x, xo + 240 + j, 4, 4, id);
}

function quantizeTq2Block(x: Float32Array, xo: number, y: Uint8Array, yo: number): void {
  const [d, id] = absMaxAndInverse(x, xo);
  writeU16(y, yo + 64, f32ToF16(d));
  for (let j = 0; j < 64; j += 32) {
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 4; n++) q += ((lroundfToInt(fr(x[xo + 4 * j + m + n * 32] * id)) + 1) & 3) << (2 * n);
      y[yo + j + m] = q & 0xff;
    }
  }
}

const POW3 = [1, 3, 9, 27, 81, 243] as const;

/** The trit at position n of a packed byte: ((uint8)(q·3^n) · 3) >> 8, minus 1. */
function trit(q: number, n: number): number {
  return ((((q * POW3[n]) & 0xff) * 3) >> 8) - 1;
}

function quantizeRowsFlat(blockBytes: number, quantizeBlock: typeof quantizeTq1Block): GgmlCodec["quantizeRows"] {
  return (src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) => {
    const nb = (nrows * nPerRow) / QK_K;
    for (let i = 0; i < nb; i++) quantizeBlock(src, srcOffset + i * QK_K, dst, dstOffset + i * blockBytes);
  };
}

export const TQ1_0_CODEC: GgmlCodec = {
  type: GGMLType.TQ1_0,
  quantizeRows: quantizeRowsFlat(TQ1_BYTES, quantizeTq1Block),
  dequantizeBlocks: dequantizeSuperBlocks(TQ1_BYTES, 52, (src, so, d, y, yo) => {
    for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) y[yo++] = fr(trit(src[so + m], n) * d);
    for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) y[yo++] = fr(trit(src[so + 32 + m], n) * d);
    for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) y[yo++] = fr(trit(src[so + 48 + j], n) * d);
  }),
};

export const TQ2_0_CODEC: GgmlCodec = {
  type: GGMLType.TQ2_0,
  quantizeRows: quantizeRowsFlat(TQ2_BYTES, quantizeTq2Block),
  dequantizeBlocks: dequantizeSuperBlocks(TQ2_BYTES, 64, (src, so, d, y, yo) => {
    for (let j = 0; j < 64; j += 32) {
      for (let l = 0; l < 4; l++) for (let m = 0; m < 32; m++) y[yo++] = fr((((src[so + j + m] >> (2 * l)) & 3) - 1) * d);
    }
  }),
};
