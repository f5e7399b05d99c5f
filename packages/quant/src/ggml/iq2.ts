/**
 * The 2-bit grid types, ported from ggml-quants.c quantize_row_iq2_xxs_impl / _iq2_xs_impl / _iq2_s_impl (with the
 * search grids of iq2xs_init_impl) and dequantize_row_iq2_xxs / _xs / _s. Each group of 8 values is a grid point
 * (coordinates 8/25/43 in ggml-common.h's grids) with 8 sign bits:
 * - IQ2_XXS (66 B): d:f16 | per 32: u32 four 8-bit grid indices, u32 (4 × 7 sign bits, even parity) | scale << 28.
 *   y = d·(0.5 + s)·0.25 · grid · sign. Needs an imatrix (ggml asserts one); first scale from make_qp_quants.
 * - IQ2_XS (74 B): d:f16 | qs[32] u16 (9-bit index | 7 sign bits << 9) | scales[8] (a 4-bit scale per 16).
 *   Needs an imatrix.
 * - IQ2_S (82 B): d:f16 | qs[32] (index low 8 bits) | signs[32] | qh[8] (2 high index bits each) | scales[8].
 *   Without an imatrix the weights are 0.25·sigma2 + x².
 */
import { GGMLType, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU32, writeU16 } from "./codec.js";
import { GROUP_MAX_EPS } from "./float32-math.js";
import { sumOfSquares } from "./imatrix-weights.js";
import { IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, KGRID_2BIT_1024, KGRID_2BIT_256, KGRID_2BIT_512, KSIGNS_IQ2XS } from "./iquant-tables.generated.js";
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
import { makeQpQuants } from "./kquant-search.js";
import { QK_K } from "./kquant-layout.js";
import { dequantizeSuperBlocks, quantizeSuperBlocks } from "./superblock-rows.js";

// module-local aliases: hot loops read these, not the imported bindings (which some loaders wrap in getters)
const IQ2S_GRID_ = IQ2S_GRID;
const IQ2XS_GRID_ = IQ2XS_GRID;
const IQ2XXS_GRID_ = IQ2XXS_GRID;
const KSIGNS_IQ2XS_ = KSIGNS_IQ2XS;

const fr = Math.fround;
const K_MAX_Q = 3;
const GROUP_MAX_EPS_IQ2_S = fr(1e-8);
const XXS_BYTES = 66;
const XS_BYTES = 74;
const S_BYTES = 82;
const STEP = fr(0.1);

const grids = new Map<number, SearchGrid>();
const searches = new Map<number, ScaleSearch>();
/** The search parameters of IQ2_XXS (grid 256), IQ2_XS (512) and IQ2_S (1024), built once. */
function searchOf(size: 256 | 512 | 1024): ScaleSearch {
  let s = searches.get(size);
  if (!s) {
    s =
      size === 256
        ? { grid: iq2SearchGrid(256), n: 32, kMaxQ: K_MAX_Q, nsteps: 6, step: STEP, refit: "all" }
        : { grid: iq2SearchGrid(size), n: 16, kMaxQ: K_MAX_Q, nsteps: 9, step: STEP, refit: "off-grid" };
    searches.set(size, s);
  }
  return s;
}
/** iq2xs_init_impl: 8 coordinates of 2 bits, 43692 map entries; 2 neighbour distances (1 for IQ2_S). */
export function iq2SearchGrid(size: 256 | 512 | 1024): SearchGrid {
  let g = grids.get(size);
  if (!g) {
    const kgrid = size === 256 ? KGRID_2BIT_256 : size === 512 ? KGRID_2BIT_512 : KGRID_2BIT_1024;
    g = buildSearchGrid(kgrid, 8, 2, 43692, size === 1024 ? 1 : 2);
    grids.set(size, g);
  }
  return g;
}

const { L } = block;
const scales = new Float32Array(16);
const blockSigns = new Uint8Array(4);
const Lqp = new Uint8Array(32);
const unused = (): number => 0;

function iq2XxsBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  if (!qw) throw new Error("IQ2_XXS requires an importance matrix");
  const search = searchOf(256);
  writeU16(y, yo, 0);
  q2.fill(0);
  let maxScale = 0;
  const sigma2 = fr(sumOfSquares(x, xo, QK_K) / QK_K);
  for (let ib = 0; ib < 8; ib++) {
    const xb = xo + 32 * ib;
    blockWeights(x, xb, 32, qw, qwo + 32 * ib, sigma2, unused);
    for (let k = 0; k < 4; k++) blockSigns[k] = evenParitySigns(x, xb + 8 * k, 8 * k);
    const max = largestXval(32);
    if (max < GROUP_MAX_EPS) {
      scales[ib] = 0;
      L.fill(0);
      continue;
    }
    let scale = makeQpQuants(32, K_MAX_Q + 1, block.xval, Lqp, block.weight);
    for (let i = 0; i < 32; i++) L[i] = (Lqp[i] << 24) >> 24; // (uint8_t*)L: the same bytes read as int8
    const effMax = fr(scale * K_MAX_Q);
    if (effMax <= 0) {
      scales[ib] = 0;
      L.fill(0);
      continue;
    }
    scale = searchPositiveScale(search, effMax, scale, blockSigns, 4, 127);
    for (let k = 0; k < 4; k++) {
      q2View.setUint32(8 * ib, (q2View.getUint32(8 * ib, true) | (gridIndexOf(search.grid, k) << (8 * k))) >>> 0, true);
      q2View.setUint32(8 * ib + 4, (q2View.getUint32(8 * ib + 4, true) | (blockSigns[k] << (7 * k))) >>> 0, true);
    }
    scales[ib] = scale;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (!maxScale) {
    y.fill(0, yo + 2, yo + XXS_BYTES);
    return;
  }
  const d = fr(maxScale / 31);
  writeU16(y, yo, f32ToF16(d));
  const id = fr(1 / d);
  for (let ib = 0; ib < 8; ib++) {
    q2View.setUint32(8 * ib + 4, (q2View.getUint32(8 * ib + 4, true) | (scaleCode(id, scales[ib]) << 28)) >>> 0, true);
  }
  y.set(q2.subarray(0, 64), yo + 2);
}

const q2 = new Uint8Array(64);
const q2View = new DataView(q2.buffer);

/**
 * IQ2_XS and IQ2_S: 16 sub-blocks of 16, each two 8-wide groups. `writeGroup` stores group k of sub-block ib;
 * returns false when the block is all zero (nothing but d = 0 written).
 */
function iq2SixteenBlocks(
  x: Float32Array,
  xo: number,
  qw: Float32Array | null,
  qwo: number,
  search: ScaleSearch,
  evenParity: boolean,
  eps: number,
  noImatrix: (sigma2: number) => (v: number) => number,
  sigmaFactor: number,
  writeGroup: (ib: number, k: number, gridIndex: number, signs: number) => void,
): number {
  let maxScale = 0;
  const sigma2 = fr(fr(sigmaFactor * sumOfSquares(x, xo, QK_K)) / QK_K);
  const weightOf = noImatrix(sigma2);
  for (let ib = 0; ib < 16; ib++) {
    const xb = xo + 16 * ib;
    blockWeights(x, xb, 16, qw, qwo + 16 * ib, sigma2, weightOf);
    for (let k = 0; k < 2; k++) blockSigns[k] = evenParity ? evenParitySigns(x, xb + 8 * k, 8 * k) : plainSigns(x, xb + 8 * k, 8 * k);
    const max = largestXval(16);
    L.fill(0, 0, 16);
    if (max < eps) {
      scales[ib] = 0;
      continue;
    }
    const scale = searchPositiveScale(search, max, fr(max / (2 * K_MAX_Q - 1)), blockSigns, 2, evenParity ? 127 : 0xff);
    for (let k = 0; k < 2; k++) writeGroup(ib, k, gridIndexOf(search.grid, k), blockSigns[k]);
    scales[ib] = scale;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  return maxScale;
}

function iq2XsBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  if (!qw) throw new Error("IQ2_XS requires an importance matrix");
  const search = searchOf(512);
  writeU16(y, yo, 0);
  q2.fill(0);
  y.fill(0, yo + 66, yo + XS_BYTES);
  const maxScale = iq2SixteenBlocks(
    x,
    xo,
    qw,
    qwo,
    search,
    true,
    GROUP_MAX_EPS,
    () => unused,
    1,
    (ib, k, g, signs) => {
      q2View.setUint16(2 * (2 * ib + k), g | (signs << 9), true);
    },
  );
  if (!maxScale) {
    y.fill(0, yo + 2, yo + 66);
    return;
  }
  const d = fr(maxScale / 31);
  writeU16(y, yo, f32ToF16(d));
  const id = fr(1 / d);
  for (let ib = 0; ib < 16; ib++) {
    const l = scaleCode(id, scales[ib]);
    if (ib % 2 === 0) y[yo + 66 + ib / 2] = l;
    else y[yo + 66 + (ib >> 1)] |= l << 4;
  }
  y.set(q2, yo + 2);
}

const S_QS = 2;
const S_SIGNS = 34;
const S_QH = 66;
const S_SCALES = 74;

function iq2SBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const search = searchOf(1024);
  y.fill(0, yo, yo + S_BYTES);
  const quarter = (sigma2: number): ((v: number) => number) => {
    const q = fr(fr(0.25) * sigma2);
    return (v) => fr(q + fr(v * v));
  };
  const maxScale = iq2SixteenBlocks(x, xo, qw, qwo, search, false, GROUP_MAX_EPS_IQ2_S, quarter, 2, (ib, k, g, signs) => {
    const i8 = 2 * ib + k;
    y[yo + S_QS + i8] = g & 255;
    y[yo + S_QH + (i8 >> 2)] |= (g >> 8) << (2 * (i8 % 4));
    y[yo + S_SIGNS + i8] = signs;
  });
  if (!maxScale) return;
  const d = fr(maxScale / 31);
  writeU16(y, yo, f32ToF16(fr(d * fr(0.9875))));
  const id = fr(1 / d);
  for (let ib = 0; ib < 16; ib++) {
    const l = scaleCode(id, scales[ib]);
    if (ib % 2 === 0) y[yo + S_SCALES + ib / 2] = l;
    else y[yo + S_SCALES + (ib >> 1)] |= l << 4;
  }
}

/** y[yo…yo+8) = db·grid[g]·sign for the 8 coordinates of grid point g (8 bytes per point). */
function writeGroup8(y: Float32Array, yo: number, db: number, grid: Uint8Array, g: number, signs: number): void {
  for (let j = 0; j < 8; j++) y[yo + j] = fr(db * grid[8 * g + j]) * (signs & (1 << j) ? -1 : 1);
}

/** d·(0.5 + s)·0.25 in float32. */
function subScale(d: number, s: number): number {
  return fr(fr(d * fr(0.5 + s)) * 0.25);
}

export const IQ2_XXS_CODEC: GgmlCodec = {
  type: GGMLType.IQ2_XXS,
  quantizeRows: quantizeSuperBlocks(XXS_BYTES, iq2XxsBlock),
  dequantizeBlocks: dequantizeSuperBlocks(XXS_BYTES, 0, (src, so, d, y, yo) => {
    for (let ib = 0; ib < 8; ib++) {
      const aux1 = readU32(src, so + 2 + 8 * ib + 4);
      const db = subScale(d, aux1 >>> 28);
      for (let l = 0; l < 4; l++, yo += 8) {
        writeGroup8(y, yo, db, IQ2XXS_GRID_, src[so + 2 + 8 * ib + l], KSIGNS_IQ2XS_[(aux1 >>> (7 * l)) & 127]);
      }
    }
  }),
};

export const IQ2_XS_CODEC: GgmlCodec = {
  type: GGMLType.IQ2_XS,
  quantizeRows: quantizeSuperBlocks(XS_BYTES, iq2XsBlock),
  dequantizeBlocks: dequantizeSuperBlocks(XS_BYTES, 0, (src, so, d, y, yo) => {
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[so + 66 + ib];
      const db0 = subScale(d, sc & 0xf);
      const db1 = subScale(d, sc >> 4);
      for (let l = 0; l < 4; l++, yo += 8) {
        const qo = so + 2 + 2 * (4 * ib + l);
        const q = src[qo] | (src[qo + 1] << 8);
        writeGroup8(y, yo, l < 2 ? db0 : db1, IQ2XS_GRID_, q & 511, KSIGNS_IQ2XS_[q >> 9]);
      }
    }
  }),
};

export const IQ2_S_CODEC: GgmlCodec = {
  type: GGMLType.IQ2_S,
  quantizeRows: quantizeSuperBlocks(S_BYTES, iq2SBlock),
  dequantizeBlocks: dequantizeSuperBlocks(S_BYTES, 0, (src, so, d, y, yo) => {
    for (let ib = 0; ib < 8; ib++) {
      const sc = src[so + S_SCALES + ib];
      const db0 = subScale(d, sc & 0xf);
      const db1 = subScale(d, sc >> 4);
      const qh = src[so + S_QH + ib];
      for (let l = 0; l < 4; l++, yo += 8) {
        const g = src[so + S_QS + 4 * ib + l] | ((qh << (8 - 2 * l)) & 0x300);
        writeGroup8(y, yo, l < 2 ? db0 : db1, IQ2S_GRID_, g, src[so + S_SIGNS + 4 * ib + l]);
      }
    }
  }),
};
