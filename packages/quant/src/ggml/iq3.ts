/**
 * The 3-bit grid types, ported from ggml-quants.c quantize_row_iq3_xxs_impl (grid 256) / quantize_row_iq3_s_impl
 * (grid 512, block size 32) and dequantize_row_iq3_xxs / _iq3_s. Both use the imatrix when given (weights
 * qw·sqrtf(sigma2 + x²), sigma2 = 2·Σx²/256) and x² otherwise.
 * - IQ3_XXS (98 B): d:f16 | qs[64] grid indices (4 values each) | 8 × u32 (4 × 7 sign bits, even parity, | scale << 28).
 *   y = d·(0.5 + s)·0.5 · iq3xxs_grid[q] · sign.
 * - IQ3_S (110 B): d:f16 | qs[64] | qh[8] (9th index bit) | signs[32] | scales[4] (4 bits each).
 *   y = d·(1 + 2s) · iq3s_grid[q] · sign.
 * Quirk kept from ggml: IQ3_S skips an all-zero 32-block without advancing its qs/signs write positions, so the
 * next block's indices and signs land where the zero block's would have gone.
 */
import { GGMLType, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU32, writeU16 } from "./codec.js";
import { sumOfSquares } from "./imatrix-weights.js";
import { IQ3S_GRID, IQ3XXS_GRID, KGRID_256, KGRID_512, KSIGNS_IQ2XS } from "./iquant-tables.generated.js";
import { type SearchGrid, buildSearchGrid } from "./iquant-search-grid.js";
import {
  type ScaleSearch,
  block,
  blockWeights,
  evenParitySigns,
  gridIndexOf,
  largestXval,
  plainSigns,
  scaleCode,
  searchPositiveScale,
} from "./iquant-scale-search.js";
import { QK_K } from "./kquant-layout.js";
import { dequantizeSuperBlocks, quantizeSuperBlocks } from "./superblock-rows.js";

// module-local aliases: hot loops read these, not the imported bindings (which some loaders wrap in getters)
const IQ3S_GRID_ = IQ3S_GRID;
const IQ3XXS_GRID_ = IQ3XXS_GRID;
const KSIGNS_IQ2XS_ = KSIGNS_IQ2XS;

const fr = Math.fround;
const K_MAX_Q = 8;
const GROUP_MAX_EPS_IQ3_XXS = fr(1e-8);
const XXS_BYTES = 98;
const S_BYTES = 110;

let grid256: SearchGrid | undefined;
let grid512: SearchGrid | undefined;
/** iq3xs_init_impl(256) / (512): 4 coordinates of 3 bits, 4096 map entries, 2 / 3 neighbour distances. */
export function iq3SearchGrid(size: 256 | 512): SearchGrid {
  if (size === 256) return (grid256 ??= buildSearchGrid(KGRID_256, 4, 3, 4096, 2));
  return (grid512 ??= buildSearchGrid(KGRID_512, 4, 3, 4096, 3));
}

const scales = new Float32Array(8);
const blockSigns = new Uint8Array(4);
const { L } = block;
const squared = (v: number): number => fr(v * v);

let search256: ScaleSearch | undefined;
let search512: ScaleSearch | undefined;
/** The search parameters of IQ3_XXS (256) / IQ3_S (512), built once (the grid on first use). */
function searchOf(size: 256 | 512): ScaleSearch {
  return size === 256
    ? (search256 ??= { grid: iq3SearchGrid(256), n: 32, kMaxQ: K_MAX_Q, nsteps: 15, step: fr(0.2), refit: "off-grid" })
    : (search512 ??= { grid: iq3SearchGrid(512), n: 32, kMaxQ: K_MAX_Q, nsteps: 9, step: fr(0.2), refit: "all-if-off-grid" });
}

type SignMask = (x: Float32Array, xo: number, vo: number) => number;

/**
 * What both quantizers do first for each 32-value block at x[xb…]: its weights (from sigma2, the imatrix slice at
 * qwo or x²), its four 8-value sign masks by `signsOf`, L cleared; returns the largest |x| in the block.
 */
function prepareBlock(x: Float32Array, xb: number, qw: Float32Array | null, qwo: number, sigma2: number, signsOf: SignMask): number {
  blockWeights(x, xb, 32, qw, qwo, sigma2, squared);
  for (let k = 0; k < 4; k++) blockSigns[k] = signsOf(x, xb + 8 * k, 8 * k);
  const max = largestXval(32);
  L.fill(0);
  return max;
}

const q3 = new Uint8Array(96);
const q3View = new DataView(q3.buffer);

function quantizeXxsBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const search = searchOf(256);
  writeU16(y, yo, 0);
  q3.fill(0);
  let maxScale = 0;
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let ib = 0; ib < 8; ib++) {
    const max = prepareBlock(x, xo + 32 * ib, qw, qwo + 32 * ib, sigma2, evenParitySigns);
    if (max < GROUP_MAX_EPS_IQ3_XXS) {
      scales[ib] = 0;
      continue;
    }
    const scale = searchPositiveScale(search, max, fr(max / (2 * K_MAX_Q - 1)), blockSigns, 4, 127);
    for (let k = 0; k < 8; k++) q3[8 * ib + k] = gridIndexOf(search.grid, k);
    q3View.setUint32(64 + 4 * ib, blockSigns[0] | (blockSigns[1] << 7) | (blockSigns[2] << 14) | (blockSigns[3] << 21), true);
    scales[ib] = scale;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (!maxScale) {
    y.fill(0, yo + 2, yo + XXS_BYTES);
    return;
  }
  const d = fr(maxScale / 31);
  writeU16(y, yo, f32ToF16(fr(d * fr(1.0125))));
  const id = fr(1 / d);
  for (let ib = 0; ib < 8; ib++) {
    q3View.setUint32(64 + 4 * ib, (q3View.getUint32(64 + 4 * ib, true) | (scaleCode(id, scales[ib]) << 28)) >>> 0, true);
  }
  y.set(q3, yo + 2);
}

const QS = 2;
const QH = 66;
const SIGNS = 74;
const SCALES = 106;

function quantizeSBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const search = searchOf(512);
  y.fill(0, yo, yo + S_BYTES);
  let qs = yo + QS;
  let signs = yo + SIGNS;
  let maxScale = 0;
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let ib = 0; ib < 8; ib++) {
    const max = prepareBlock(x, xo + 32 * ib, qw, qwo + 32 * ib, sigma2, plainSigns);
    if (max === 0) {
      scales[ib] = 0;
      continue;
    }
    const scale = searchPositiveScale(search, max, fr(max / (2 * K_MAX_Q - 1)), blockSigns, 4, 0xff);
    for (let k = 0; k < 8; k++) {
      const g = gridIndexOf(search.grid, k);
      y[qs + k] = g & 255;
      y[yo + QH + ((ib * 8 + k) >> 3)] |= (g >> 8) << ((ib * 8 + k) % 8);
    }
    qs += 8;
    for (let k = 0; k < 4; k++) y[signs + k] = blockSigns[k];
    signs += 4;
    scales[ib] = scale;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (!maxScale) return;
  const d = fr(maxScale / 31);
  writeU16(y, yo, f32ToF16(fr(d * fr(1.033))));
  const id = fr(1 / d);
  for (let ib = 0; ib < 8; ib += 2) y[yo + SCALES + ib / 2] = scaleCode(id, scales[ib]) | (scaleCode(id, scales[ib + 1]) << 4);
}

export const IQ3_XXS_CODEC: GgmlCodec = {
  type: GGMLType.IQ3_XXS,
  quantizeRows: quantizeSuperBlocks(XXS_BYTES, quantizeXxsBlock),
  dequantizeBlocks: dequantizeSuperBlocks(XXS_BYTES, 0, (src, so, d, y, yo) => {
    for (let ib = 0; ib < 8; ib++) {
      const aux = readU32(src, so + 66 + 4 * ib);
      const db = fr(fr(d * fr(0.5 + (aux >>> 28))) * 0.5);
      for (let l = 0; l < 4; l++, yo += 8) {
        const signs = KSIGNS_IQ2XS_[(aux >>> (7 * l)) & 127];
        const g1 = src[so + 2 + 8 * ib + 2 * l] * 4;
        const g2 = src[so + 2 + 8 * ib + 2 * l + 1] * 4;
        for (let j = 0; j < 4; j++) {
          y[yo + j] = fr(db * IQ3XXS_GRID_[g1 + j]) * (signs & (1 << j) ? -1 : 1);
          y[yo + j + 4] = fr(db * IQ3XXS_GRID_[g2 + j]) * (signs & (1 << (j + 4)) ? -1 : 1);
        }
      }
    }
  }),
};

export const IQ3_S_CODEC: GgmlCodec = {
  type: GGMLType.IQ3_S,
  quantizeRows: quantizeSuperBlocks(S_BYTES, quantizeSBlock),
  dequantizeBlocks: dequantizeSuperBlocks(S_BYTES, 0, (src, so, d, y, yo) => {
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[so + SCALES + (ib >> 1)];
      const db = fr(d * (1 + 2 * (ib % 2 ? sc >> 4 : sc & 0xf)));
      const qh = src[so + QH + ib];
      for (let l = 0; l < 4; l++, yo += 8) {
        const g1 = (src[so + QS + 8 * ib + 2 * l] | ((qh << (8 - 2 * l)) & 256)) * 4;
        const g2 = (src[so + QS + 8 * ib + 2 * l + 1] | ((qh << (7 - 2 * l)) & 256)) * 4;
        const signs = src[so + SIGNS + 4 * ib + l];
        for (let j = 0; j < 4; j++) {
          y[yo + j] = fr(db * IQ3S_GRID_[g1 + j]) * (signs & (1 << j) ? -1 : 1);
          y[yo + j + 4] = fr(db * IQ3S_GRID_[g2 + j]) * (signs & (1 << (j + 4)) ? -1 : 1);
        }
      }
    }
  }),
};
