/**
 * The scale searches shared by ggml's block quantizers, ported from ggml-quants.c (make_qx_quants,
 * make_q3_quants, make_qkx2_quants, make_qkx3_quants, make_qp_quants). Every float operation is rounded
 * to float32 in the order the C expression evaluates it (left to right: `w*x*l` is `(w*x)*l`), sums run
 * sequentially from index 0, and comparisons are the C ones (strict where C is strict) — that is what makes
 * the output bytes identical to llama.cpp's. Arrays are passed with explicit offsets so callers never
 * allocate per block.
 */
import { GROUP_MAX_EPS, maxByMagnitude, nearestInt } from "./float32-math.js";

const fr = Math.fround;
const F0_1 = fr(0.1);

/**
 * How make_qkx2_quants / make_qkx3_quants search: inverse scales (rmin + rdelta·is + nmax)/(max − min) for
 * is = 0..nstep, the error |diff| (useMad) or diff², and qkx3's degenerate test (`max <= min`, else `max == min`).
 * Each caller passes one of a few constant settings, so no object is made per block.
 */
export interface QkxSearch {
  readonly rmin: number;
  readonly rdelta: number;
  readonly nstep: number;
  readonly useMad: boolean;
  readonly qkx3: boolean;
}

/** make_qkx3_quants as every imatrix path of ggml-quants.c calls it: rmin −0.9, rdelta 0.05, 36 steps, squared error. */
export const QKX3_IMATRIX: QkxSearch = { rmin: fr(-0.9), rdelta: fr(0.05), nstep: 36, useMad: false, qkx3: true };

/** make_qkx2_quants(…, rmin, rdelta, nstep, use_mad) of a reference (no imatrix) path. */
export function qkx2Search(rmin: number, rdelta: number, nstep: number, useMad: boolean): QkxSearch {
  return { rmin: fr(rmin), rdelta: fr(rdelta), nstep, useMad, qkx3: false };
}

/** Level scratch for the candidate scale of a search (n ≤ 32 everywhere). */
const Laux = new Uint8Array(32);
/** Signed levels of make_q3_quants before the +nmax offset (int8_t L[] in C). */
const q3Levels = new Int8Array(16);
/** x − min for the current group (make_qkx*_quants), so the search loop does not recompute it. */
const xShifted = new Float32Array(32);

/**
 * make_qx_quants with rmse_type = 1: symmetric levels in [0, 2·nmax) (stored as l + nmax) and a signed scale,
 * searching 18 perturbed inverse scales −(nmax ± 0.1·is)/max. Weights are qw[qwOff+i], or x² when qw is null.
 */
export function makeQxQuants(
  n: number,
  nmax: number,
  x: Float32Array,
  xOff: number,
  L: Uint8Array,
  lOff: number,
  qw: Float32Array | null,
  qwOff: number,
): number {
  const max = maxByMagnitude(x, xOff, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lOff, lOff + n);
    return 0;
  }
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i];
    let l = nearestInt(fr(iscale * v));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[lOff + i] = l + nmax;
    const w = qw === null ? fr(v * v) : qw[qwOff + i];
    sumlx = fr(sumlx + fr(fr(w * v) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(F0_1 * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i];
      let l = nearestInt(fr(iscale * v));
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      Laux[i] = l + nmax;
      const w = qw === null ? fr(v * v) : qw[qwOff + i];
      sumlx = fr(sumlx + fr(fr(w * v) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[lOff + i] = Laux[i];
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/**
 * make_q3_quants with do_rmse = true (Q3_K reference path): levels in [−nmax, nmax) refined coordinate-wise
 * for up to 5 passes, then offset by nmax. An all-zero group returns 0 with L = 0 (no offset), as in C.
 */
export function makeQ3Quants(n: number, nmax: number, x: Float32Array, xOff: number, Lout: Uint8Array, lOff: number): number {
  const L = q3Levels;
  const max = maxByMagnitude(x, xOff, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    Lout.fill(0, lOff, lOff + n);
    return 0;
  }
  const iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i];
    let l = nearestInt(fr(iscale * v));
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[i] = l;
    const w = fr(v * v);
    sumlx = fr(sumlx + fr(fr(w * v) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let nChanged = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i];
      const w = fr(v * v);
      const li = L[i];
      let slx = fr(sumlx - fr(fr(w * v) * li));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * li) * li));
        let newL = nearestInt(fr(fr(v * sl2) / slx));
        newL = newL < -nmax ? -nmax : newL > nmax - 1 ? nmax - 1 : newL;
        if (newL !== li) {
          slx = fr(slx + fr(fr(w * v) * newL));
          sl2 = fr(sl2 + fr(fr(w * newL) * newL));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[i] = newL;
            sumlx = slx;
            suml2 = sl2;
            nChanged++;
          }
        }
      }
    }
    if (nChanged === 0) break;
  }
  for (let i = 0; i < n; i++) Lout[lOff + i] = L[i] + nmax;
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/**
 * make_qkx2_quants (reference K-quant paths) and make_qkx3_quants (imatrix paths): asymmetric levels in
 * [0, nmax] with a scale and a min ≤ 0, searching nstep+1 inverse scales (rmin + rdelta·is + nmax)/(max − min)
 * and keeping the weighted least-squares (scale, min) with the smallest error (|diff| when useMad, else diff²).
 * Note the search is adaptive: once a step is accepted, later steps shift and scale by the accepted min.
 * Writes −min into theMin[minIdx] and returns the scale. The two C functions differ only in the degenerate test
 * (`max == min` vs `max <= min`), chosen by `qkx3`; weights are always given here, as in all ggml callers.
 */
export function makeQkxQuants(
  n: number,
  nmax: number,
  x: Float32Array,
  xOff: number,
  weights: Float32Array,
  wOff: number,
  L: Uint8Array,
  lOff: number,
  theMin: Float32Array,
  minIdx: number,
  search: QkxSearch,
): number {
  const { rmin, rdelta, nstep, useMad, qkx3 } = search;
  let min = x[xOff];
  let max = min;
  let sumW = weights[wOff];
  let sumX = fr(sumW * min);
  for (let i = 1; i < n; i++) {
    const v = x[xOff + i];
    if (v < min) min = v;
    if (v > max) max = v;
    const w = weights[wOff + i];
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * v));
  }
  if (min > 0) min = 0;
  if (qkx3 ? max <= min : max === min) {
    L.fill(0, lOff, lOff + n);
    theMin[minIdx] = -min;
    return 0;
  }
  let range = fr(max - min);
  let iscale = fr(nmax / range);
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i];
    const xs = fr(v - min);
    xShifted[i] = xs;
    let l = nearestInt(fr(iscale * xs));
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    L[lOff + i] = l;
    let diff = fr(fr(fr(scale * l) + min) - v);
    diff = useMad ? Math.abs(diff) : fr(diff * diff);
    bestError = fr(bestError + fr(weights[wOff + i] * diff));
  }
  if (nstep < 1) {
    theMin[minIdx] = -min;
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / range);
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(fr(iscale * xShifted[i]));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      Laux[i] = l;
      const wl = fr(weights[wOff + i] * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * x[xOff + i]));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = fr(fr(fr(thisScale * Laux[i]) + thisMin) - x[xOff + i]);
        diff = useMad ? Math.abs(diff) : fr(diff * diff);
        curError = fr(curError + fr(weights[wOff + i] * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lOff + i] = Laux[i];
        bestError = curError;
        scale = thisScale;
        // the accepted min moves the grid: later steps use (max − min) and x − min with this new min
        min = thisMin;
        range = fr(max - min);
        for (let i = 0; i < n; i++) xShifted[i] = fr(x[xOff + i] - min);
      }
    }
  }
  theMin[minIdx] = -min;
  return scale;
}

/**
 * make_qp_quants: positive-only levels in [0, nmax] for the sub-block scales/mins of the imatrix K-quant paths,
 * weighted by qw. L is uint8 as in C, so a (pathological) negative level wraps modulo 256 exactly as C stores it.
 */
export function makeQpQuants(n: number, nmax: number, x: Float32Array, L: Uint8Array, qw: Float32Array): number {
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    max = max > v ? max : v;
  }
  if (max < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = fr(nmax / max);
  for (let i = 0; i < n; i++) L[i] = nearestInt(fr(iscale * x[i]));
  const scale = fr(1 / iscale);
  let bestMse = 0;
  for (let i = 0; i < n; i++) {
    const diff = fr(x[i] - fr(scale * L[i]));
    bestMse = fr(bestMse + fr(fr(qw[i] * diff) * diff));
  }
  for (let is = -4; is <= 4; is++) {
    if (is === 0) continue;
    const iscaleIs = fr(fr(fr(F0_1 * is) + nmax) / max);
    const scaleIs = fr(1 / iscaleIs);
    let mse = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(fr(iscaleIs * x[i]));
      if (l > nmax) l = nmax;
      const diff = fr(x[i] - fr(scaleIs * l));
      mse = fr(mse + fr(fr(qw[i] * diff) * diff));
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(fr(iscale * x[i]));
    if (l > nmax) l = nmax;
    L[i] = l;
    const w = qw[i];
    sumlx = fr(sumlx + fr(fr(w * x[i]) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let nChanged = 0;
    for (let i = 0; i < n; i++) {
      const w = qw[i];
      const v = x[i];
      const li = L[i];
      let slx = fr(sumlx - fr(fr(w * v) * li));
      let sl2 = fr(suml2 - fr(fr(w * li) * li));
      if (slx > 0 && sl2 > 0) {
        let newL = nearestInt(fr(fr(v * sl2) / slx));
        if (newL > nmax) newL = nmax;
        if (newL !== li) {
          slx = fr(slx + fr(fr(w * v) * newL));
          sl2 = fr(sl2 + fr(fr(w * newL) * newL));
          if (fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[i] = newL;
            sumlx = slx;
            suml2 = sl2;
            nChanged++;
          }
        }
      }
    }
    if (nChanged === 0) break;
  }
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}
