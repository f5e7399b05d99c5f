/**
 * The scale search the IQ2/IQ3 quantizers of ggml-quants.c share (quantize_row_iq2_xxs_impl, _iq2_xs_impl,
 * _iq2_s_impl, _iq3_xxs_impl, _iq3_s_impl): for a block of |x| values (`xval`) with weights, try scales around the
 * block maximum, snap each group of `dims` levels onto the search grid (nearest neighbour when off the grid), keep the
 * scale of best Σwxq²/Σwq², then refit groups at that scale. Everything in float32, in C's order.
 */
import { nearestInt } from "./float32-math.js";
import { type SearchGrid, findBestNeighbour } from "./iquant-search-grid.js";

// module-local aliases: hot loops call these, not the imported bindings (which some loaders wrap in getters)
const nearestInt_ = nearestInt;
const findBestNeighbour_ = findBestNeighbour;

const fr = Math.fround;

/** The per-block working arrays (up to 32 elements), shared by the IQ2/IQ3 codecs. */
export const block = {
  weight: new Float32Array(32),
  /** sqrtf(weight): the neighbour search's weights. */
  waux: new Float32Array(32),
  /** |x|, with one element per odd-sign group flipped back for the even-parity types. */
  xval: new Float32Array(32),
  /** The chosen levels (0…kMaxQ−1). */
  L: new Int8Array(32),
  Laux: new Int8Array(32),
  isOnGrid: new Uint8Array(8),
  isOnGridAux: new Uint8Array(8),
};

/** How the final refit treats the groups, which differs between the types. */
export type Refit =
  /** refit the off-grid groups if any (IQ3_XXS, IQ2_XS, IQ2_S) */
  | "off-grid"
  /** refit every group if any is off the grid (IQ3_S) */
  | "all-if-off-grid"
  /** refit every group whenever the scale is positive (IQ2_XXS) */
  | "all";

export interface ScaleSearch {
  readonly grid: SearchGrid;
  /** Elements in the block (16 or 32). */
  readonly n: number;
  /** Levels per coordinate (3 for IQ2, 8 for IQ3). */
  readonly kMaxQ: number;
  /** Trial steps −nsteps…nsteps of `step` around 2·kMaxQ − 1. */
  readonly nsteps: number;
  readonly step: number;
  readonly refit: Refit;
}

/** nearest_int(0.5f·(id·x − 1)) clamped to 0…kMaxQ−1. */
export function gridLevel(id: number, x: number, kMaxQ: number): number {
  const l = nearestInt_(fr(0.5 * fr(fr(id * x) - 1)));
  return l < 0 ? 0 : l > kMaxQ - 1 ? kMaxQ - 1 : l;
}

/** The kmap index of the `dims` levels at Lv[o…] (bitsPerLevel = 2 for 8-wide groups, 3 for 4-wide). */
export function packLevels(Lv: Int8Array, o: number, dims: number): number {
  const bits = dims === 8 ? 2 : 3;
  let u = 0;
  for (let i = 0; i < dims; i++) u |= Lv[o + i] << (bits * i);
  return u;
}

let sumQX = 0;
let sumQ2 = 0;

/** Σ w·x·q and Σ w·q·q with q = 2L + 1 over n elements, in float32, into sumQX / sumQ2 (no allocation per call). */
function gridSums(Lv: Int8Array, n: number): void {
  const { weight, xval } = block;
  let sumqx = 0;
  let sumq2 = 0;
  for (let i = 0; i < n; i++) {
    const w = weight[i];
    const q = 2 * Lv[i] + 1;
    sumqx = fr(sumqx + fr(fr(w * xval[i]) * q));
    sumq2 = fr(sumq2 + fr(fr(w * q) * q));
  }
  sumQX = sumqx;
  sumQ2 = sumq2;
}

/**
 * Runs the search on block.xval / block.weight / block.waux with trial inverse scales (2·kMaxQ − 1 + is·step)/base
 * starting from `scale`; leaves the levels in block.L (which the caller has initialised) and returns the scale.
 */
export function searchScale(s: ScaleSearch, base: number, scale: number): number {
  const { grid: sg, n, kMaxQ } = s;
  const { xval, waux, L, Laux, isOnGrid, isOnGridAux } = block;
  const dims = sg.dims;
  const groups = n / dims;
  let best = 0;
  isOnGrid.fill(s.refit === "all-if-off-grid" ? 0 : 1);
  for (let is = -s.nsteps; is <= s.nsteps; is++) {
    const id = fr(fr(2 * kMaxQ - 1 + fr(is * s.step)) / base);
    const thisScale = fr(1 / id);
    for (let k = 0; k < groups; k++) {
      for (let i = 0; i < dims; i++) Laux[dims * k + i] = gridLevel(id, xval[dims * k + i], kMaxQ);
      const u = packLevels(Laux, dims * k, dims);
      isOnGridAux[k] = 1;
      if (sg.map[u] < 0) {
        isOnGridAux[k] = 0;
        findBestNeighbour_(sg, u, xval, dims * k, waux, dims * k, thisScale, Laux, dims * k);
      }
    }
    gridSums(Laux, n);
    const sumqx = sumQX;
    const sumq2 = sumQ2;
    if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
      scale = fr(sumqx / sumq2);
      best = fr(scale * sumqx);
      for (let i = 0; i < n; i++) L[i] = Laux[i];
      for (let k = 0; k < groups; k++) isOnGrid[k] = isOnGridAux[k];
    }
  }
  let notOnGrid = 0;
  for (let k = 0; k < groups; k++) if (!isOnGrid[k]) notOnGrid++;
  const refit = s.refit === "all" ? scale > 0 : notOnGrid > 0 && scale > 0;
  if (refit) {
    const id = fr(1 / scale);
    for (let k = 0; k < groups; k++) {
      if (s.refit === "off-grid" && isOnGrid[k]) continue;
      for (let i = 0; i < dims; i++) L[dims * k + i] = gridLevel(id, xval[dims * k + i], kMaxQ);
      const u = packLevels(L, dims * k, dims);
      if (sg.map[u] < 0) findBestNeighbour_(sg, u, xval, dims * k, waux, dims * k, scale, L, dims * k);
    }
    gridSums(L, n);
    if (sumQ2 > 0) scale = fr(sumQX / sumQ2);
  }
  return scale;
}

/**
 * searchScale, then the sign flip of quantize_row_iq2_*_impl / iq3_*_impl: a negative best scale is made positive
 * by inverting the first `groups` sign masks of `signs` (`mask`: 127 for 7 stored bits with even parity, 0xff for 8).
 */
export function searchPositiveScale(s: ScaleSearch, base: number, scale: number, signs: Uint8Array, groups: number, mask: number): number {
  const found = searchScale(s, base, scale);
  if (!(found < 0)) return found;
  for (let k = 0; k < groups; k++) signs[k] = ~signs[k] & mask;
  return -found;
}

/** The grid index of group k of block.L (which must be on the grid, as ggml aborts otherwise). */
export function gridIndexOf(sg: SearchGrid, k: number): number {
  const { kMaxQ } = sg;
  // levels outside 0…kMaxQ−1 (make_qp_quants' levels when no trial scale won: non-finite input) are never on the grid
  for (let i = 0; i < sg.dims; i++) {
    const l = block.L[sg.dims * k + i];
    if (l < 0 || l >= kMaxQ) throw new Error(`i-quant: level ${l} is off the grid (non-finite input?)`);
  }
  const u = packLevels(block.L, sg.dims * k, sg.dims);
  const g = sg.map[u];
  if (g < 0) throw new Error(`i-quant: level vector ${u} is not on the grid`);
  return g;
}

/**
 * |x| of the 8 values x[xo…] into block.xval[vo…] and their sign bits; when an odd number are negative, the
 * element of least w·x² keeps its sign instead (the 7 stored sign bits imply even parity). Returns s & 127.
 */
export function evenParitySigns(x: Float32Array, xo: number, vo: number): number {
  const { weight, xval } = block;
  let nflip = 0;
  let s = 0;
  for (let i = 0; i < 8; i++) {
    const v = x[xo + i];
    if (v >= 0) xval[vo + i] = v;
    else {
      xval[vo + i] = -v;
      nflip++;
      s |= 1 << i;
    }
  }
  if (nflip % 2) {
    let imin = 0;
    let min = fr(fr(weight[vo] * x[xo]) * x[xo]);
    for (let i = 1; i < 8; i++) {
      const ax = fr(fr(weight[vo + i] * x[xo + i]) * x[xo + i]);
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[vo + imin] = -xval[vo + imin];
    s ^= 1 << imin;
  }
  return s & 127;
}

/** |x| of the 8 values x[xo…] into block.xval[vo…]; returns their sign bits. */
export function plainSigns(x: Float32Array, xo: number, vo: number): number {
  let s = 0;
  for (let i = 0; i < 8; i++) {
    const v = x[xo + i];
    if (v >= 0) block.xval[vo + i] = v;
    else {
      block.xval[vo + i] = -v;
      s |= 1 << i;
    }
  }
  return s;
}

/** max of block.xval[0…n) as MAX(max, v) from xval[0] finds it. */
export function largestXval(n: number): number {
  const { xval } = block;
  let max = xval[0];
  for (let i = 1; i < n; i++) max = max > xval[i] ? max : xval[i];
  return max;
}

/** The sub-block weights: qw·sqrtf(sigma2 + x²) with an imatrix, else `noImatrix(x)`; then waux = sqrtf(weight). */
export function blockWeights(
  x: Float32Array,
  xb: number,
  n: number,
  qw: Float32Array | null,
  qwo: number,
  sigma2: number,
  noImatrix: (v: number) => number,
): void {
  const { weight, waux } = block;
  if (qw) {
    for (let i = 0; i < n; i++) {
      const v = x[xb + i];
      weight[i] = fr(qw[qwo + i] * fr(Math.sqrt(fr(sigma2 + fr(v * v)))));
    }
  } else for (let i = 0; i < n; i++) weight[i] = noImatrix(x[xb + i]);
  for (let i = 0; i < n; i++) waux[i] = fr(Math.sqrt(weight[i]));
}

/** nearest_int(0.5f·(id·scale − 1)) clamped to 0…15: a block scale's 4-bit code. */
export function scaleCode(id: number, scale: number): number {
  const l = nearestInt_(fr(0.5 * fr(fr(id * scale) - 1)));
  return l < 0 ? 0 : l > 15 ? 15 : l;
}
