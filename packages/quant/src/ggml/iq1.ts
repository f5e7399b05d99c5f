/**
 * The 1-bit grid types, ported from ggml-quants.c quantize_row_iq1_s_impl / quantize_row_iq1_m_impl (search grid of
 * iq2xs_init_impl for IQ1_S/IQ1_M: 2048 points, levels 0…2, 3 neighbour distances) and dequantize_row_iq1_s / _m.
 * Each group of 8 values is an iq1s_grid point (coordinates −1, 0, 1) shifted by ±IQ1S_DELTA (0.125):
 * - IQ1_S (50 B): d:f16 | qs[32] (index low 8 bits) | qh[8] u16 per 32 (4 × 3 high index bits, 3-bit scale << 12,
 *   delta sign << 15). y = d·(2s + 1)·(grid + delta). Needs an imatrix (ggml asserts one).
 * - IQ1_M (56 B): qs[32] | qh[16] (per 16: high index bits and delta signs of its two groups) | scales[8] (3-bit
 *   scale per 16, the fp16 d spread over the top nibbles of the four u16). Without an imatrix the weights are x².
 * The exhaustive split search sorts each block's values as ggml's qsort does on this glibc (2.36, a stable merge
 * sort for such small arrays): ascending, ties in index order.
 */
import { GGMLType, F16_TO_F32, f32ToF16 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { nearestInt } from "./float32-math.js";
import { sumOfSquares } from "./imatrix-weights.js";
import { IQ1S_GRID, KGRID_1BIT_2048 } from "./iquant-tables.generated.js";
import { type SearchGrid, buildSearchGrid } from "./iquant-search-grid.js";
import { QK_K } from "./kquant-layout.js";
import { dequantizeSuperBlocks, quantizeSuperBlocks } from "./superblock-rows.js";

const fr = Math.fround;
const FLT_MAX = 3.4028234663852886e38;
const DELTA = fr(0.125);
const X_P = [fr(-1 + DELTA), DELTA, fr(1 + DELTA)] as const;
const X_M = [fr(-1 - DELTA), -DELTA, fr(1 - DELTA)] as const;
const GROUP_MAX_EPS_IQ1_S = fr(1e-12);
const GROUP_MAX_EPS_IQ1_M = fr(1e-7);
const S_BYTES = 50;
const M_BYTES = 56;

let grid: SearchGrid | undefined;
/** iq2xs_init_impl(2048): 8 coordinates of 2 bits (levels 0…2), 43692 map entries, 3 neighbour distances. */
export function iq1SearchGrid(): SearchGrid {
  return (grid ??= buildSearchGrid(KGRID_1BIT_2048, 8, 2, 43692, 3));
}

const weight = new Float32Array(32);
const L = new Int8Array(32);
const order: number[] = [];
const sumx = new Float32Array(33);
const sumw = new Float32Array(33);
const index = new Uint16Array(4);

/** Indices 0…n−1 of xb[…] sorted by value, ties in index order (glibc's stable qsort with iq1_sort_helper). */
function sortedOrder(x: Float32Array, xb: number, n: number): void {
  // insertion sort: stable, so for finite values the same order as any stable sort by value
  order.length = n;
  for (let j = 0; j < n; j++) {
    const v = x[xb + j];
    let k = j;
    while (k > 0 && x[xb + order[k - 1]] > v) {
      order[k] = order[k - 1];
      k--;
    }
    order[k] = j;
  }
}

/**
 * iq1_find_best_neighbour2: among the neighbours of off-grid vector u, the point of least Σ w·(scale·xg[level] − x)²
 * (first on ties); writes its levels to L[lo…] and returns its index.
 */
function findBestNeighbour2(sg: SearchGrid, u: number, x: Float32Array, xo: number, wo: number, scale: number, xg: readonly number[], lo: number): number {
  const list = sg.neighbours(u);
  let best = FLT_MAX;
  let gridIndex = -1;
  for (let j = 0; j < list.length; j++) {
    const g = list[j];
    let d2 = 0;
    for (let i = 0; i < 8; i++) {
      const q = xg[(sg.grid[8 * g + i] - 1) >> 1];
      const diff = fr(fr(scale * q) - x[xo + i]);
      d2 = fr(d2 + fr(fr(weight[wo + i] * diff) * diff));
    }
    if (d2 < best) {
      best = d2;
      gridIndex = g;
    }
  }
  // ggml falls back to a (buggy) scan of the whole grid here, reachable only with non-finite distances
  if (gridIndex < 0) throw new Error("IQ1: no neighbour at a finite distance (non-finite input?)");
  for (let i = 0; i < 8; i++) L[lo + i] = (sg.grid[8 * gridIndex + i] - 1) >> 1;
  return gridIndex;
}

/** Snaps the `groups` 8-level groups of L to the grid (index[]); returns whether all were on it. */
function snapGroups(sg: SearchGrid, x: Float32Array, xb: number, groups: number, scale: number, xgOf: (k: number) => readonly number[]): boolean {
  let allOnGrid = true;
  for (let k = 0; k < groups; k++) {
    let u = 0;
    for (let j = 0; j < 8; j++) u |= L[8 * k + j] << (2 * j);
    let g = sg.map[u];
    if (g < 0) {
      allOnGrid = false;
      g = findBestNeighbour2(sg, u, x, xb + 8 * k, 8 * k, scale, xgOf(k), 8 * k);
    }
    index[k] = g;
  }
  return allOnGrid;
}

/** The least-squares scale of the snapped groups (Σwqx/Σwq², kept only when both sums are positive). */
function refitScale(sg: SearchGrid, x: Float32Array, xb: number, groups: number, scale: number, xgOf: (k: number) => readonly number[]): number {
  let sumqx = 0;
  let sumq2 = 0;
  for (let k = 0; k < groups; k++) {
    const xx = xgOf(k);
    for (let j = 0; j < 8; j++) {
      const w = weight[8 * k + j];
      const q = xx[(sg.grid[8 * index[k] + j] - 1) >> 1];
      sumqx = fr(sumqx + fr(fr(w * q) * x[xb + 8 * k + j]));
      sumq2 = fr(sumq2 + fr(fr(w * q) * q));
    }
  }
  return sumqx > 0 && sumq2 > 0 ? fr(sumqx / sumq2) : scale;
}

function blockWeights(x: Float32Array, xb: number, n: number, qw: Float32Array | null, qwo: number, sigma2: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[xb + i];
    weight[i] = qw ? fr(qw[qwo + i] * fr(Math.sqrt(fr(sigma2 + fr(v * v))))) : fr(v * v);
  }
}

function absMax(x: Float32Array, xb: number, n: number): number {
  let max = Math.abs(x[xb]);
  for (let i = 1; i < n; i++) {
    const a = Math.abs(x[xb + i]);
    max = max > a ? max : a;
  }
  return max;
}

/** (a − b)·c in float32. */
const span = (a: number, b: number, c: number): number => fr(fr(a - b) * c);

const scalesS = new Float32Array(8);
const shiftsS = new Int8Array(8);

function iq1sBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  if (!qw) throw new Error("IQ1_S requires an importance matrix");
  const sg = iq1SearchGrid();
  const bs = 32;
  y.fill(0, yo, yo + S_BYTES);
  let maxScale = 0;
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let ib = 0; ib < 8; ib++) {
    const xb = xo + bs * ib;
    blockWeights(x, xb, bs, qw, qwo + bs * ib, sigma2);
    const max = absMax(x, xb, bs);
    if (max < GROUP_MAX_EPS_IQ1_S) {
      scalesS[ib] = 0;
      shiftsS[ib] = 1;
      continue;
    }
    sortedOrder(x, xb, bs);
    sumx[0] = 0;
    sumw[0] = 0;
    for (let j = 0; j < bs; j++) {
      const i = order[j];
      sumx[j + 1] = fr(sumx[j] + fr(weight[i] * x[xb + i]));
      sumw[j + 1] = fr(sumw[j] + weight[i]);
    }
    let bestScore = -FLT_MAX;
    let scale = max;
    let besti1 = -1;
    let besti2 = -1;
    let bestShift = 0;
    for (let i1 = 0; i1 <= bs; i1++) {
      for (let i2 = i1; i2 <= bs; i2++) {
        for (let shift = 1; shift >= -1; shift -= 2) {
          const xx = shift === 1 ? X_P : X_M;
          const sumqx = fr(fr(span(sumx[i1], sumx[0], xx[0]) + span(sumx[i2], sumx[i1], xx[1])) + span(sumx[bs], sumx[i2], xx[2]));
          const sumq2 = fr(
            fr(fr(span(sumw[i1], sumw[0], xx[0]) * xx[0]) + fr(span(sumw[i2], sumw[i1], xx[1]) * xx[1])) + fr(span(sumw[bs], sumw[i2], xx[2]) * xx[2]),
          );
          if (sumq2 > 0 && fr(sumqx * sumqx) > fr(bestScore * sumq2)) {
            scale = fr(sumqx / sumq2);
            bestScore = fr(scale * sumqx);
            besti1 = i1;
            besti2 = i2;
            bestShift = shift;
          }
        }
      }
    }
    if (besti1 < 0 || besti2 < 0 || bestShift === 0) {
      scalesS[ib] = 0;
      shiftsS[ib] = 1;
      continue;
    }
    for (let j = 0; j < bs; j++) L[order[j]] = j < besti1 ? 0 : j < besti2 ? 1 : 2;
    if (scale < 0) {
      for (let j = 0; j < bs; j++) L[j] = 2 - L[j];
      scale = -scale;
      bestShift = -bestShift;
    }
    const xx = bestShift === 1 ? X_P : X_M;
    if (!snapGroups(sg, x, xb, 4, scale, () => xx)) scale = refitScale(sg, x, xb, 4, scale, () => xx);
    let h = 0;
    for (let k = 0; k < 4; k++) {
      y[yo + 2 + 4 * ib + k] = index[k] & 255;
      h |= (index[k] >> 8) << (3 * k);
    }
    writeU16(y, yo + 34 + 2 * ib, h);
    scalesS[ib] = scale;
    shiftsS[ib] = bestShift;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (!maxScale) return;
  const d = fr(maxScale / 15);
  writeU16(y, yo, f32ToF16(fr(d * fr(1.125))));
  const id = fr(1 / d);
  for (let ib = 0; ib < 8; ib++) {
    let l = nearestInt(fr(0.5 * fr(fr(id * scalesS[ib]) - 1)));
    l = Math.max(0, Math.min(7, l));
    if (shiftsS[ib] === -1) l |= 8;
    writeU16(y, yo + 34 + 2 * ib, readU16(y, yo + 34 + 2 * ib) | (l << 12));
  }
}

const scalesM = new Float32Array(16);
const shiftsM = new Int8Array(16);
const MASKS = [0x00, 0x80, 0x08, 0x88] as const;
const sumqxK = new Float32Array(4);
const sumq2K = new Float32Array(4);
const M_QH = 32;
const M_SCALES = 48;

/** The delta sign pattern k (0: +,+  1: +,−  2: −,+  3: −,−) of group `g` (0 or 1) of a 16-block. */
function xgOfShift(k: number, g: number): readonly number[] {
  return g === 0 ? (k < 2 ? X_P : X_M) : k % 2 === 0 ? X_P : X_M;
}

/** Adds element i (at level `lv`) to the four sign-pattern sums, in ggml's order for its half of the block. */
function addToPatterns(w: number, v: number, firstHalf: boolean, lv: number): void {
  const p = X_P[lv];
  const m = X_M[lv];
  const wpx = fr(fr(w * p) * v);
  const wmx = fr(fr(w * m) * v);
  const wpp = fr(fr(w * p) * p);
  const wmm = fr(fr(w * m) * m);
  // patterns whose first group uses x_p: 0, 1; whose second group uses x_p: 0, 2
  const a = firstHalf ? 1 : 2;
  const b = firstHalf ? 2 : 1;
  sumqxK[0] = fr(sumqxK[0] + wpx);
  sumqxK[a] = fr(sumqxK[a] + wpx);
  sumqxK[b] = fr(sumqxK[b] + wmx);
  sumqxK[3] = fr(sumqxK[3] + wmx);
  sumq2K[0] = fr(sumq2K[0] + wpp);
  sumq2K[a] = fr(sumq2K[a] + wpp);
  sumq2K[b] = fr(sumq2K[b] + wmm);
  sumq2K[3] = fr(sumq2K[3] + wmm);
}

/** The split iq1mSplitSearch chose: levels 0 / 1 / 2 for sorted positions below i1 / below i2 / the rest, pattern k. */
const iq1mSplit = { i1: -1, i2: -1, k: -1, scale: 0 };

/** Every split (i1 ≤ i2) and sign pattern of the 16-block in ggml's order; the first of best Σwqx²/Σwq² wins. */
function iq1mSplitSearch(x: Float32Array, xb: number, max: number): void {
  const bs = 16;
  let bestScore = -FLT_MAX;
  let scale = max;
  let besti1 = -1;
  let besti2 = -1;
  let bestK = -1;
  for (let i1 = 0; i1 <= bs; i1++) {
    for (let i2 = i1; i2 <= bs; i2++) {
      sumqxK.fill(0);
      sumq2K.fill(0);
      for (let j = 0; j < bs; j++) {
        const i = order[j];
        addToPatterns(weight[i], x[xb + i], i < bs / 2, j < i1 ? 0 : j < i2 ? 1 : 2);
      }
      for (let k = 0; k < 4; k++) {
        if (sumq2K[k] > 0 && fr(sumqxK[k] * sumqxK[k]) > fr(bestScore * sumq2K[k])) {
          scale = fr(sumqxK[k] / sumq2K[k]);
          bestScore = fr(scale * sumqxK[k]);
          besti1 = i1;
          besti2 = i2;
          bestK = k;
        }
      }
    }
  }
  iq1mSplit.i1 = besti1;
  iq1mSplit.i2 = besti2;
  iq1mSplit.k = bestK;
  iq1mSplit.scale = scale;
}

function iq1mBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const sg = iq1SearchGrid();
  const bs = 16;
  y.fill(0, yo, yo + M_BYTES);
  let maxScale = 0;
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let ib = 0; ib < 16; ib++) {
    const xb = xo + bs * ib;
    blockWeights(x, xb, bs, qw, qwo + bs * ib, sigma2);
    const max = absMax(x, xb, bs);
    if (max < GROUP_MAX_EPS_IQ1_M) {
      scalesM[ib] = 0;
      shiftsM[ib] = 0;
      continue;
    }
    sortedOrder(x, xb, bs);
    iq1mSplitSearch(x, xb, max);
    const { i1: besti1, i2: besti2 } = iq1mSplit;
    let { k: bestK, scale } = iq1mSplit;
    if (besti1 < 0 || besti2 < 0 || bestK < 0) {
      scalesM[ib] = 0;
      shiftsM[ib] = 0;
      continue;
    }
    for (let j = 0; j < bs; j++) L[order[j]] = j < besti1 ? 0 : j < besti2 ? 1 : 2;
    if (scale < 0) {
      for (let j = 0; j < bs; j++) L[j] = 2 - L[j];
      scale = -scale;
      bestK = 3 - bestK;
    }
    const k0 = bestK;
    const xgOf = (g: number): readonly number[] => xgOfShift(k0, g);
    if (!snapGroups(sg, x, xb, 2, scale, xgOf)) scale = refitScale(sg, x, xb, 2, scale, xgOf);
    y[yo + 2 * ib] = index[0] & 255;
    y[yo + 2 * ib + 1] = index[1] & 255;
    y[yo + M_QH + ib] = (index[0] >> 8) | ((index[1] >> 8) << 4);
    scalesM[ib] = scale;
    shiftsM[ib] = bestK;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (!maxScale) return;
  let d = fr(maxScale / 15);
  const id = fr(1 / d);
  let sumqx = 0;
  let sumq2 = 0;
  for (let ib = 0; ib < 16; ib++) {
    const l = Math.max(0, Math.min(7, nearestInt(fr(0.5 * fr(fr(id * scalesM[ib]) - 1)))));
    const sc = yo + M_SCALES + 2 * (ib >> 2);
    writeU16(y, sc, readU16(y, sc) | (l << (3 * (ib % 4))));
    y[yo + M_QH + ib] |= MASKS[shiftsM[ib]];
    const xb = xo + bs * ib;
    blockWeights(x, xb, bs, qw, qwo + bs * ib, sigma2);
    const qh = y[yo + M_QH + ib];
    for (let k = 0; k < 2; k++) {
      const xx = xgOfShift(shiftsM[ib], k);
      const g = y[yo + 2 * ib + k] + ((qh << (8 - 4 * k)) & 0x700);
      for (let j = 0; j < 8; j++) {
        const w = weight[8 * k + j];
        const q = fr(xx[(sg.grid[8 * g + j] - 1) >> 1] * (2 * l + 1));
        sumqx = fr(sumqx + fr(fr(w * q) * x[xb + 8 * k + j]));
        sumq2 = fr(sumq2 + fr(fr(w * q) * q));
      }
    }
  }
  if (sumq2 > 0) d = fr(sumqx / sumq2);
  const h = f32ToF16(fr(d * fr(1.1125)));
  for (let i = 0; i < 4; i++) {
    const sc = yo + M_SCALES + 2 * i;
    writeU16(y, sc, readU16(y, sc) | (((h >> (4 * i)) & 0xf) << 12));
  }
}

const GRID = new Int8Array(IQ1S_GRID.buffer, IQ1S_GRID.byteOffset, IQ1S_GRID.length);

/** y[yo…yo+8) = dl·(grid + delta) for grid point g. */
function writeGroup(y: Float32Array, yo: number, dl: number, g: number, delta: number): void {
  for (let j = 0; j < 8; j++) y[yo + j] = fr(dl * fr(GRID[8 * g + j] + delta));
}

export const IQ1_S_CODEC: GgmlCodec = {
  type: GGMLType.IQ1_S,
  quantizeRows: quantizeSuperBlocks(S_BYTES, iq1sBlock),
  dequantizeBlocks: dequantizeSuperBlocks(S_BYTES, 0, (src, so, d, y, yo) => {
    for (let ib = 0; ib < 8; ib++) {
      const qh = readU16(src, so + 34 + 2 * ib);
      const dl = fr(d * (2 * ((qh >> 12) & 7) + 1));
      const delta = qh & 0x8000 ? -DELTA : DELTA;
      for (let l = 0; l < 4; l++, yo += 8) writeGroup(y, yo, dl, src[so + 2 + 4 * ib + l] | (((qh >> (3 * l)) & 7) << 8), delta);
    }
  }),
};

const sc = new Uint16Array(4);
const F16_TO_F32_ = F16_TO_F32;

export const IQ1_M_CODEC: GgmlCodec = {
  type: GGMLType.IQ1_M,
  quantizeRows: quantizeSuperBlocks(M_BYTES, iq1mBlock),
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += M_BYTES) {
      for (let k = 0; k < 4; k++) sc[k] = src[so + M_SCALES + 2 * k] | (src[so + M_SCALES + 2 * k + 1] << 8);
      const d = F16_TO_F32_[(sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000)];
      for (let ib = 0; ib < 8; ib++) {
        const s = sc[ib >> 1];
        const dl1 = fr(d * (2 * ((s >> (6 * (ib % 2))) & 7) + 1));
        const dl2 = fr(d * (2 * ((s >> (6 * (ib % 2) + 3)) & 7) + 1));
        const qs = so + 4 * ib;
        const qh0 = src[so + M_QH + 2 * ib];
        const qh1 = src[so + M_QH + 2 * ib + 1];
        writeGroup(y, yo, dl1, src[qs] | ((qh0 << 8) & 0x700), qh0 & 0x08 ? -DELTA : DELTA);
        writeGroup(y, yo + 8, dl1, src[qs + 1] | ((qh0 << 4) & 0x700), qh0 & 0x80 ? -DELTA : DELTA);
        writeGroup(y, yo + 16, dl2, src[qs + 2] | ((qh1 << 8) & 0x700), qh1 & 0x08 ? -DELTA : DELTA);
        writeGroup(y, yo + 24, dl2, src[qs + 3] | ((qh1 << 4) & 0x700), qh1 & 0x80 ? -DELTA : DELTA);
        yo += 32;
      }
    }
  },
};
