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
import { GGMLType } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16, writeU16 } from "./codec.js";
import { nearestInt } from "./float32-math.js";
import { FP16_TO_FP32, fp32ToFp16 } from "./half.js";
import { imatrixWeights, sumOfSquares } from "./imatrix-weights.js";
import { IQ3S_GRID, IQ3XXS_GRID, KGRID_256, KGRID_512, KSIGNS_IQ2XS } from "./iquant-tables.generated.js";
import { type SearchGrid, buildSearchGrid, findBestNeighbour } from "./iquant-search-grid.js";
import { QK_K } from "./kquant-layout.js";
import { forEachSuperBlock } from "./superblock-rows.js";

const fr = Math.fround;
const K_MAX_Q = 8;
const GROUP_MAX_EPS_IQ3_XXS = fr(1e-8);
const XXS_BYTES = 98;
const S_BYTES = 110;

let grid256: SearchGrid | undefined;
let grid512: SearchGrid | undefined;
/** iq3xs_init_impl(256) / (512): 4 coordinates of 3 bits, 4096 map entries, 2 / 3 neighbour distances. */
function searchGrid(size: 256 | 512): SearchGrid {
  if (size === 256) return (grid256 ??= buildSearchGrid(KGRID_256, 4, 3, 4096, 2));
  return (grid512 ??= buildSearchGrid(KGRID_512, 4, 3, 4096, 3));
}

const weight = new Float32Array(32);
const waux = new Float32Array(32);
const xval = new Float32Array(32);
const L = new Int8Array(32);
const Laux = new Int8Array(32);
const isOnGrid = new Uint8Array(8);
const isOnGridAux = new Uint8Array(8);
const blockSigns = new Uint8Array(4);
const scales = new Float32Array(8);

/** nearest_int(0.5f·(id·x − 1)) clamped to 0…7: the level of x at inverse scale id. */
function level(id: number, x: number): number {
  const l = nearestInt(fr(0.5 * fr(fr(id * x) - 1)));
  return l < 0 ? 0 : l > K_MAX_Q - 1 ? K_MAX_Q - 1 : l;
}

function packedLevels(Lv: Int8Array, o: number): number {
  return Lv[o] | (Lv[o + 1] << 3) | (Lv[o + 2] << 6) | (Lv[o + 3] << 9);
}

/** Σ w·x·q and Σ w·q·q with q = 2L + 1, in float32. */
function gridSums(Lv: Int8Array): [number, number] {
  let sumqx = 0;
  let sumq2 = 0;
  for (let i = 0; i < 32; i++) {
    const w = weight[i];
    const q = 2 * Lv[i] + 1;
    sumqx = fr(sumqx + fr(fr(w * xval[i]) * q));
    sumq2 = fr(sumq2 + fr(fr(w * q) * q));
  }
  return [sumqx, sumq2];
}

/**
 * The scale search both IQ3 types run on one 32-block of |x| (xval, weights set): `nsteps` trial scales around
 * max/15, neighbour search for off-grid quadruplets, then a refit of the off-grid ones at the best scale (all of
 * them when `refitAll`, as IQ3_S does). Leaves the levels in L and returns the scale.
 */
function searchScale(sg: SearchGrid, max: number, nsteps: number, onGridInit: boolean, refitAll: boolean): number {
  let best = 0;
  let scale = fr(max / (2 * K_MAX_Q - 1));
  isOnGrid.fill(onGridInit ? 1 : 0);
  for (let is = -nsteps; is <= nsteps; is++) {
    const id = fr(fr(2 * K_MAX_Q - 1 + fr(is * fr(0.2))) / max);
    const thisScale = fr(1 / id);
    for (let k = 0; k < 8; k++) {
      for (let i = 0; i < 4; i++) Laux[4 * k + i] = level(id, xval[4 * k + i]);
      const u = packedLevels(Laux, 4 * k);
      isOnGridAux[k] = 1;
      if (sg.map[u] < 0) {
        isOnGridAux[k] = 0;
        findBestNeighbour(sg, -sg.map[u] - 1, xval, 4 * k, waux, 4 * k, thisScale, Laux, 4 * k);
      }
    }
    const [sumqx, sumq2] = gridSums(Laux);
    if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
      scale = fr(sumqx / sumq2);
      best = fr(scale * sumqx);
      L.set(Laux);
      isOnGrid.set(isOnGridAux);
    }
  }
  let notOnGrid = 0;
  for (let k = 0; k < 8; k++) if (!isOnGrid[k]) notOnGrid++;
  if (notOnGrid > 0 && scale > 0) {
    const id = fr(1 / scale);
    for (let k = 0; k < 8; k++) {
      if (!refitAll && isOnGrid[k]) continue;
      let u = 0;
      for (let i = 0; i < 4; i++) u |= level(id, xval[4 * k + i]) << (3 * i);
      let gridIndex = sg.map[u];
      if (gridIndex < 0) gridIndex = findBestNeighbour(sg, -gridIndex - 1, xval, 4 * k, waux, 4 * k, scale, L, 4 * k);
      for (let i = 0; i < 4; i++) L[4 * k + i] = (sg.grid[gridIndex * 4 + i] - 1) >> 1;
    }
    const [sumqx, sumq2] = gridSums(L);
    if (sumq2 > 0) scale = fr(sumqx / sumq2);
  }
  return scale;
}

/** Weights for the 32-block at x[xb…] (imatrix or x²) and their square roots. */
function blockWeights(x: Float32Array, xb: number, qw: Float32Array | null, qwo: number, sigma2: number): void {
  if (qw) imatrixWeights(x, xb, qw, qwo, sigma2, 32, weight);
  else for (let i = 0; i < 32; i++) weight[i] = fr(x[xb + i] * x[xb + i]);
  for (let i = 0; i < 32; i++) waux[i] = fr(Math.sqrt(weight[i]));
}

function gridIndexOf(sg: SearchGrid, k: number): number {
  const u = packedLevels(L, 4 * k);
  const g = sg.map[u];
  if (g < 0) throw new Error(`IQ3: point ${u} not on grid`);
  return g;
}

function largest(n: number): number {
  let max = xval[0];
  for (let i = 1; i < n; i++) max = max > xval[i] ? max : xval[i];
  return max;
}

const q3 = new Uint8Array(96);
const q3View = new DataView(q3.buffer);

function quantizeXxsBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const sg = searchGrid(256);
  writeU16(y, yo, 0);
  q3.fill(0);
  let maxScale = 0;
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let ib = 0; ib < 8; ib++) {
    const xb = xo + 32 * ib;
    blockWeights(x, xb, qw, qwo + 32 * ib, sigma2);
    for (let k = 0; k < 4; k++) {
      let nflip = 0;
      let s = 0;
      for (let i = 0; i < 8; i++) {
        const v = x[xb + 8 * k + i];
        if (v >= 0) xval[8 * k + i] = v;
        else {
          xval[8 * k + i] = -v;
          nflip++;
          s |= 1 << i;
        }
      }
      if (nflip % 2) {
        // odd number of negatives: flip the sign of the least important element (7 sign bits store even parity)
        let imin = 0;
        let min = fr(fr(weight[8 * k] * x[xb + 8 * k]) * x[xb + 8 * k]);
        for (let i = 1; i < 8; i++) {
          const ax = fr(fr(weight[8 * k + i] * x[xb + 8 * k + i]) * x[xb + 8 * k + i]);
          if (ax < min) {
            min = ax;
            imin = i;
          }
        }
        xval[8 * k + imin] = -xval[8 * k + imin];
        s ^= 1 << imin;
      }
      blockSigns[k] = s & 127;
    }
    const max = largest(32);
    L.fill(0);
    if (max < GROUP_MAX_EPS_IQ3_XXS) {
      scales[ib] = 0;
      continue;
    }
    let scale = searchScale(sg, max, 15, true, false);
    if (scale < 0) {
      scale = -scale;
      for (let k = 0; k < 4; k++) blockSigns[k] = ~blockSigns[k] & 127;
    }
    for (let k = 0; k < 8; k++) q3[8 * ib + k] = gridIndexOf(sg, k);
    q3View.setUint32(64 + 4 * ib, blockSigns[0] | (blockSigns[1] << 7) | (blockSigns[2] << 14) | (blockSigns[3] << 21), true);
    scales[ib] = scale;
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (!maxScale) {
    y.fill(0, yo + 2, yo + XXS_BYTES);
    return;
  }
  const d = fr(maxScale / 31);
  writeU16(y, yo, fp32ToFp16(fr(d * fr(1.0125))));
  const id = fr(1 / d);
  for (let ib = 0; ib < 8; ib++) {
    let l = nearestInt(fr(0.5 * fr(fr(id * scales[ib]) - 1)));
    l = Math.max(0, Math.min(15, l));
    q3View.setUint32(64 + 4 * ib, (q3View.getUint32(64 + 4 * ib, true) | (l << 28)) >>> 0, true);
  }
  y.set(q3, yo + 2);
}

const QS = 2;
const QH = 66;
const SIGNS = 74;
const SCALES = 106;

function quantizeSBlock(x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number): void {
  const sg = searchGrid(512);
  y.fill(0, yo, yo + S_BYTES);
  let qs = yo + QS;
  let signs = yo + SIGNS;
  let maxScale = 0;
  const sigma2 = fr(fr(2 * sumOfSquares(x, xo, QK_K)) / QK_K);
  for (let ib = 0; ib < 8; ib++) {
    const xb = xo + 32 * ib;
    blockWeights(x, xb, qw, qwo + 32 * ib, sigma2);
    for (let k = 0; k < 4; k++) {
      let s = 0;
      for (let i = 0; i < 8; i++) {
        const v = x[xb + 8 * k + i];
        if (v >= 0) xval[8 * k + i] = v;
        else {
          xval[8 * k + i] = -v;
          s |= 1 << i;
        }
      }
      blockSigns[k] = s;
    }
    const max = largest(32);
    L.fill(0);
    if (max === 0) {
      scales[ib] = 0;
      continue;
    }
    let scale = searchScale(sg, max, 9, false, true);
    if (scale < 0) {
      scale = -scale;
      for (let k = 0; k < 4; k++) blockSigns[k] = ~blockSigns[k] & 0xff;
    }
    for (let k = 0; k < 8; k++) {
      const g = gridIndexOf(sg, k);
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
  writeU16(y, yo, fp32ToFp16(fr(d * fr(1.033))));
  const id = fr(1 / d);
  for (let ib = 0; ib < 8; ib += 2) {
    const l1 = Math.max(0, Math.min(15, nearestInt(fr(0.5 * fr(fr(id * scales[ib]) - 1)))));
    const l2 = Math.max(0, Math.min(15, nearestInt(fr(0.5 * fr(fr(id * scales[ib + 1]) - 1)))));
    y[yo + SCALES + ib / 2] = l1 | (l2 << 4);
  }
}

export const IQ3_XXS_CODEC: GgmlCodec = {
  type: GGMLType.IQ3_XXS,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, XXS_BYTES, (xo, io, yo) => quantizeXxsBlock(src, xo, imatrix, io, dst, yo));
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
    for (let i = 0; i < nb; i++, so += XXS_BYTES) {
      const d = FP16_TO_FP32[readU16(src, so)];
      for (let ib = 0; ib < 8; ib++) {
        const aux = view.getUint32(so + 66 + 4 * ib, true);
        const db = fr(fr(d * fr(0.5 + (aux >>> 28))) * 0.5);
        for (let l = 0; l < 4; l++, yo += 8) {
          const signs = KSIGNS_IQ2XS[(aux >>> (7 * l)) & 127];
          const g1 = src[so + 2 + 8 * ib + 2 * l] * 4;
          const g2 = src[so + 2 + 8 * ib + 2 * l + 1] * 4;
          for (let j = 0; j < 4; j++) {
            y[yo + j] = fr(db * IQ3XXS_GRID[g1 + j]) * (signs & (1 << j) ? -1 : 1);
            y[yo + j + 4] = fr(db * IQ3XXS_GRID[g2 + j]) * (signs & (1 << (j + 4)) ? -1 : 1);
          }
        }
      }
    }
  },
};

export const IQ3_S_CODEC: GgmlCodec = {
  type: GGMLType.IQ3_S,
  quantizeRows(src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) {
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, S_BYTES, (xo, io, yo) => quantizeSBlock(src, xo, imatrix, io, dst, yo));
  },
  dequantizeBlocks(src, so, nb, y, yo) {
    for (let i = 0; i < nb; i++, so += S_BYTES) {
      const d = FP16_TO_FP32[readU16(src, so)];
      for (let ib = 0; ib < 8; ib++) {
        const sc = src[so + SCALES + (ib >> 1)];
        const db = fr(d * (1 + 2 * (ib % 2 ? sc >> 4 : sc & 0xf)));
        const qh = src[so + QH + ib];
        for (let l = 0; l < 4; l++, yo += 8) {
          const g1 = (src[so + QS + 8 * ib + 2 * l] | ((qh << (8 - 2 * l)) & 256)) * 4;
          const g2 = (src[so + QS + 8 * ib + 2 * l + 1] | ((qh << (7 - 2 * l)) & 256)) * 4;
          const signs = src[so + SIGNS + 4 * ib + l];
          for (let j = 0; j < 4; j++) {
            y[yo + j] = fr(db * IQ3S_GRID[g1 + j]) * (signs & (1 << j) ? -1 : 1);
            y[yo + j + 4] = fr(db * IQ3S_GRID[g2 + j]) * (signs & (1 << (j + 4)) ? -1 : 1);
          }
        }
      }
    }
  },
};
