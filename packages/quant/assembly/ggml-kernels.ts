// AssemblyScript port of @moeq/quant's ggml quantizers (src/ggml/*.ts, themselves ports of ggml-quants.c), compiled
// to WebAssembly by scripts/build-wasm.mjs. WebAssembly f32 arithmetic is IEEE binary32 with round-to-nearest-even
// and no contraction, exactly what the baseline-x86-64 libggml-base.so does, so the f32 expressions below are
// written in C's order and produce ggml's bytes without the Math.fround wrapping the TypeScript reference needs.
// The TypeScript codecs stay the readable reference; tests check both against libggml-base.so.
//
// Memory: the caller (src/ggml/wasm-kernels.ts) places src, imatrix and dst in linear memory above heapBase().

const GROUP_MAX_EPS: f32 = 1e-15;
const QK_K: i32 = 256;
const F0_1: f32 = 0.1;
const RMIN_IM: f32 = -0.9;
const RDELTA_IM: f32 = 0.05;

// ---------------------------------------------------------------- scratch (static data)
const LAUX: usize = memory.data(32);
const XSHIFT: usize = memory.data(32 * 4, 16);
const Q3L: usize = memory.data(16);
const LEV: usize = memory.data(256); // levels of the current super-block / block
const WGT: usize = memory.data(32 * 4, 16); // weights of the current sub-block
const WGTALL: usize = memory.data(256 * 4, 16); // weights of every sub-block of the current super-block
const SCALES: usize = memory.data(16 * 4, 16);
const MINS: usize = memory.data(16 * 4, 16);
const SW: usize = memory.data(16 * 4, 16);
const LS: usize = memory.data(16);
const LM: usize = memory.data(16);

export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

@inline function ldf(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}
@inline function stf(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}
@inline function ldb(p: usize, i: i32): i32 {
  return <i32>load<u8>(p + <usize>i);
}
@inline function stb(p: usize, i: i32, v: i32): void {
  store<u8>(p + <usize>i, <u8>v);
}
@inline function orb(p: usize, i: i32, v: i32): void {
  store<u8>(p + <usize>i, <u8>(<i32>load<u8>(p + <usize>i) | v));
}
@inline function st16(p: usize, v: u32): void {
  store<u16>(p, <u16>v);
}

/** nearest_int: the 1.5·2^23 trick, including its behaviour outside ±4194303. */
@inline function nearestInt(fval: f32): i32 {
  const val: f32 = fval + <f32>12582912.0;
  return (reinterpret<i32>(val) & 0x007fffff) - 0x00400000;
}

/** ggml_compute_fp32_to_fp16. */
function fp32ToFp16(f: f32): u32 {
  const scaleToInf = reinterpret<f32>(<u32>0x77800000);
  const scaleToZero = reinterpret<f32>(<u32>0x08800000);
  let base: f32 = (abs<f32>(f) * scaleToInf) * scaleToZero;
  const w = reinterpret<u32>(f);
  const shl1w = w + w;
  const sign = w & 0x80000000;
  let bias = shl1w & 0xff000000;
  if (bias < 0x71000000) bias = 0x71000000;
  base = reinterpret<f32>((bias >> 1) + 0x07800000) + base;
  const bits = reinterpret<u32>(base);
  const expBits = (bits >> 13) & 0x00007c00;
  const mantissaBits = bits & 0x00000fff;
  const nonsign = expBits + mantissaBits;
  return (sign >> 16) | (shl1w > 0xff000000 ? 0x7e00 : nonsign);
}

/** ggml_compute_fp16_to_fp32. */
function fp16ToFp32(h: u32): f32 {
  const w = h << 16;
  const sign = w & 0x80000000;
  const twoW = w + w;
  const normalized = reinterpret<f32>((twoW >> 4) + (<u32>0xe0 << 23)) * reinterpret<f32>(<u32>0x07800000);
  const denormalized = reinterpret<f32>((twoW >> 17) | (<u32>126 << 23)) - <f32>0.5;
  return reinterpret<f32>(sign | (twoW < (<u32>1 << 27) ? reinterpret<u32>(denormalized) : reinterpret<u32>(normalized)));
}

@inline function ld16f(p: usize): f32 {
  return fp16ToFp32(<u32>load<u16>(p));
}

// ---------------------------------------------------------------- searches (kquant-search.ts)

function makeQxQuants(n: i32, nmax: i32, x: usize, L: usize, qw: usize): f32 {
  let mx: f32 = 0;
  let amax: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    const ax = abs<f32>(v);
    if (ax > amax) {
      amax = ax;
      mx = v;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    memory.fill(L, 0, <usize>n);
    return 0;
  }
  let iscale: f32 = <f32>(-nmax) / mx;
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    let l = nearestInt(iscale * v);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    stb(L, i, l + nmax);
    const w: f32 = qw != 0 ? ldf(qw, i) : v * v;
    const fl = <f32>l;
    sumlx += w * v * fl;
    suml2 += w * fl * fl;
  }
  let scale: f32 = suml2 != 0 ? sumlx / suml2 : 0;
  let best: f32 = scale * sumlx;
  for (let is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = -(<f32>nmax + F0_1 * <f32>is) / mx;
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = ldf(x, i);
      let l = nearestInt(iscale * v);
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      stb(LAUX, i, l + nmax);
      const w: f32 = qw != 0 ? ldf(qw, i) : v * v;
      const fl = <f32>l;
      sumlx += w * v * fl;
      suml2 += w * fl * fl;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      memory.copy(L, LAUX, <usize>n);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

function makeQ3Quants(n: i32, nmax: i32, x: usize, Lout: usize): f32 {
  let mx: f32 = 0;
  let amax: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    const ax = abs<f32>(v);
    if (ax > amax) {
      amax = ax;
      mx = v;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    memory.fill(Lout, 0, <usize>n);
    return 0;
  }
  const iscale: f32 = <f32>(-nmax) / mx;
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    let l = nearestInt(iscale * v);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    store<i8>(Q3L + <usize>i, <i8>l);
    const w: f32 = v * v;
    const fl = <f32>l;
    sumlx += w * v * fl;
    suml2 += w * fl * fl;
  }
  for (let itry = 0; itry < 5; itry++) {
    let nChanged = 0;
    for (let i = 0; i < n; i++) {
      const v = ldf(x, i);
      const w: f32 = v * v;
      const li = <i32>load<i8>(Q3L + <usize>i);
      const fli = <f32>li;
      let slx: f32 = sumlx - w * v * fli;
      if (slx > 0) {
        let sl2: f32 = suml2 - w * fli * fli;
        let newL = nearestInt((v * sl2) / slx);
        newL = newL < -nmax ? -nmax : newL > nmax - 1 ? nmax - 1 : newL;
        if (newL != li) {
          const fn = <f32>newL;
          slx += w * v * fn;
          sl2 += w * fn * fn;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            store<i8>(Q3L + <usize>i, <i8>newL);
            sumlx = slx;
            suml2 = sl2;
            nChanged++;
          }
        }
      }
    }
    if (nChanged == 0) break;
  }
  for (let i = 0; i < n; i++) stb(Lout, i, <i32>load<i8>(Q3L + <usize>i) + nmax);
  return suml2 > 0 ? sumlx / suml2 : 0;
}

/** make_qkx2_quants (qkx3 = false) / make_qkx3_quants (qkx3 = true); writes −min to theMin. */
function makeQkxQuants(
  n: i32,
  nmax: i32,
  x: usize,
  weights: usize,
  L: usize,
  theMin: usize,
  rmin: f32,
  rdelta: f32,
  nstep: i32,
  useMad: bool,
  qkx3: bool,
): f32 {
  let mn = ldf(x, 0);
  let mx = mn;
  let sumW = ldf(weights, 0);
  let sumX: f32 = sumW * mn;
  for (let i = 1; i < n; i++) {
    const v = ldf(x, i);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    const w = ldf(weights, i);
    sumW += w;
    sumX += w * v;
  }
  if (mn > 0) mn = 0;
  if (qkx3 ? mx <= mn : mx == mn) {
    memory.fill(L, 0, <usize>n);
    store<f32>(theMin, -mn);
    return 0;
  }
  let range: f32 = mx - mn;
  let iscale: f32 = <f32>nmax / range;
  let scale: f32 = <f32>1 / iscale;
  let bestError: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    const xs: f32 = v - mn;
    stf(XSHIFT, i, xs);
    let l = nearestInt(iscale * xs);
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    stb(L, i, l);
    let diff: f32 = scale * <f32>l + mn - v;
    diff = useMad ? abs<f32>(diff) : diff * diff;
    bestError += ldf(weights, i) * diff;
  }
  if (nstep < 1) {
    store<f32>(theMin, -mn);
    return scale;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * <f32>is + <f32>nmax) / range;
    let sumL: f32 = 0;
    let sumL2: f32 = 0;
    let sumXL: f32 = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(iscale * ldf(XSHIFT, i));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      stb(LAUX, i, l);
      const fl = <f32>l;
      const wl: f32 = ldf(weights, i) * fl;
      sumL += wl;
      sumL2 += wl * fl;
      sumXL += wl * ldf(x, i);
    }
    const D: f32 = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale: f32 = (sumW * sumXL - sumX * sumL) / D;
      let thisMin: f32 = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      let curError: f32 = 0;
      for (let i = 0; i < n; i++) {
        let diff: f32 = thisScale * <f32>ldb(LAUX, i) + thisMin - ldf(x, i);
        diff = useMad ? abs<f32>(diff) : diff * diff;
        curError += ldf(weights, i) * diff;
      }
      if (curError < bestError) {
        memory.copy(L, LAUX, <usize>n);
        bestError = curError;
        scale = thisScale;
        mn = thisMin;
        range = mx - mn;
        for (let i = 0; i < n; i++) stf(XSHIFT, i, ldf(x, i) - mn);
      }
    }
  }
  store<f32>(theMin, -mn);
  return scale;
}

// ---------------------------------------------------------------- four independent groups at once (SIMD)
//
// The same make_qkx2/qkx3_quants search run for four independent groups (sub-blocks or blocks) in the four f32
// lanes: every lane performs exactly the scalar sequence of f32 operations for its own group (lane-wise IEEE ops,
// sums still in index order), so each lane's result is bit-identical to a scalar call; branches become per-lane
// selects. This is where the K-quant time goes, and lanes give the CPU four independent add chains.

const XT: usize = memory.data(32 * 16, 16); // x, transposed: [i][lane]
const WT: usize = memory.data(32 * 16, 16); // weights, transposed
const XST: usize = memory.data(32 * 16, 16); // x − min, transposed
const LT: usize = memory.data(32 * 16, 16); // best levels (i32), transposed
const LAUXT: usize = memory.data(32 * 16, 16); // candidate levels (i32), transposed
const OUT4: usize = memory.data(16, 16); // per-lane degenerate mask
const PTRS: usize = memory.data(48, 16); // 3 × 4 group pointers for makeQkxQuants4

@inline function v(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 4));
}
@inline function vst(p: usize, i: i32, a: v128): void {
  v128.store(p + (<usize>i << 4), a);
}

/**
 * makeQkxQuants for four groups of n ≤ 32: xp, wp and lp each hold four pointers (the groups' x, weights and u8
 * level outputs); the scales go to scaleOut[0…3] and the −mins to minOut[0…3].
 */
function makeQkxQuants4(
  n: i32,
  nmax: i32,
  xp: usize, // 4 pointers to the groups' x
  wp: usize, // 4 pointers to the groups' weights
  lp: usize, // 4 pointers to the groups' level outputs (u8)
  scaleOut: usize, // f32[4] scale per group
  minOut: usize, // f32[4] −min per group
  rmin: f32,
  rdelta: f32,
  nstep: i32,
  useMad: bool,
  qkx3: bool,
): void {
  for (let k = 0; k < 4; k++) {
    const x = load<usize>(xp + (<usize>k << 2));
    const w = load<usize>(wp + (<usize>k << 2));
    for (let i = 0; i < n; i++) {
      store<f32>(XT + (<usize>i << 4) + (<usize>k << 2), ldf(x, i));
      store<f32>(WT + (<usize>i << 4) + (<usize>k << 2), ldf(w, i));
    }
  }
  const zero = f32x4.splat(0);
  let mn = v(XT, 0);
  let mx = mn;
  let sumW = v(WT, 0);
  let sumX = f32x4.mul(sumW, mn);
  for (let i = 1; i < n; i++) {
    const xi = v(XT, i);
    mn = v128.bitselect(xi, mn, f32x4.lt(xi, mn));
    mx = v128.bitselect(xi, mx, f32x4.gt(xi, mx));
    const wi = v(WT, i);
    sumW = f32x4.add(sumW, wi);
    sumX = f32x4.add(sumX, f32x4.mul(wi, xi));
  }
  mn = v128.bitselect(zero, mn, f32x4.gt(mn, zero));
  const degenerate = qkx3 ? f32x4.le(mx, mn) : f32x4.eq(mx, mn);
  const minAtStart = mn;
  let range = f32x4.sub(mx, mn);
  const nmaxF = f32x4.splat(<f32>nmax);
  const nmaxI = i32x4.splat(nmax);
  const zeroI = i32x4.splat(0);
  const magic = f32x4.splat(<f32>12582912.0);
  const mantMask = i32x4.splat(0x007fffff);
  const half = i32x4.splat(0x00400000);
  let iscale = f32x4.div(nmaxF, range);
  let scale = f32x4.div(f32x4.splat(1), iscale);
  let best = zero;
  for (let i = 0; i < n; i++) {
    const xi = v(XT, i);
    const xs = f32x4.sub(xi, mn);
    vst(XST, i, xs);
    let l = i32x4.sub(v128.and(f32x4.add(f32x4.mul(iscale, xs), magic), mantMask), half);
    l = i32x4.min_s(i32x4.max_s(l, zeroI), nmaxI);
    vst(LT, i, l);
    let diff = f32x4.sub(f32x4.add(f32x4.mul(scale, f32x4.convert_i32x4_s(l)), mn), xi);
    diff = useMad ? f32x4.abs(diff) : f32x4.mul(diff, diff);
    best = f32x4.add(best, f32x4.mul(v(WT, i), diff));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = f32x4.div(f32x4.splat(rmin + rdelta * <f32>is + <f32>nmax), range);
    let sumL = zero;
    let sumL2 = zero;
    let sumXL = zero;
    for (let i = 0; i < n; i++) {
      let l = i32x4.sub(v128.and(f32x4.add(f32x4.mul(iscale, v(XST, i)), magic), mantMask), half);
      l = i32x4.min_s(i32x4.max_s(l, zeroI), nmaxI);
      vst(LAUXT, i, l);
      const fl = f32x4.convert_i32x4_s(l);
      const wl = f32x4.mul(v(WT, i), fl);
      sumL = f32x4.add(sumL, wl);
      sumL2 = f32x4.add(sumL2, f32x4.mul(wl, fl));
      sumXL = f32x4.add(sumXL, f32x4.mul(wl, v(XT, i)));
    }
    const D = f32x4.sub(f32x4.mul(sumW, sumL2), f32x4.mul(sumL, sumL));
    const dPos = f32x4.gt(D, zero);
    if (!v128.any_true(dPos)) continue;
    let thisScale = f32x4.div(f32x4.sub(f32x4.mul(sumW, sumXL), f32x4.mul(sumX, sumL)), D);
    let thisMin = f32x4.div(f32x4.sub(f32x4.mul(sumL2, sumX), f32x4.mul(sumL, sumXL)), D);
    const minPos = f32x4.gt(thisMin, zero);
    thisMin = v128.bitselect(zero, thisMin, minPos);
    thisScale = v128.bitselect(f32x4.div(sumXL, sumL2), thisScale, minPos);
    let cur = zero;
    for (let i = 0; i < n; i++) {
      let diff = f32x4.sub(f32x4.add(f32x4.mul(thisScale, f32x4.convert_i32x4_s(v(LAUXT, i))), thisMin), v(XT, i));
      diff = useMad ? f32x4.abs(diff) : f32x4.mul(diff, diff);
      cur = f32x4.add(cur, f32x4.mul(v(WT, i), diff));
    }
    const accept = v128.and(dPos, f32x4.lt(cur, best));
    if (!v128.any_true(accept)) continue;
    for (let i = 0; i < n; i++) vst(LT, i, v128.bitselect(v(LAUXT, i), v(LT, i), accept));
    best = v128.bitselect(cur, best, accept);
    scale = v128.bitselect(thisScale, scale, accept);
    mn = v128.bitselect(thisMin, mn, accept);
    range = f32x4.sub(mx, mn);
    for (let i = 0; i < n; i++) vst(XST, i, v128.bitselect(f32x4.sub(v(XT, i), mn), v(XST, i), accept));
  }
  // degenerate groups: L = 0, the_min = −min (min as clamped at the start), scale 0
  scale = v128.bitselect(zero, scale, degenerate);
  mn = v128.bitselect(minAtStart, mn, degenerate);
  v128.store(scaleOut, scale);
  v128.store(minOut, f32x4.neg(mn));
  v128.store(OUT4, degenerate);
  for (let k = 0; k < 4; k++) {
    const L = load<usize>(lp + (<usize>k << 2));
    if (load<i32>(OUT4 + (<usize>k << 2)) != 0) {
      memory.fill(L, 0, <usize>n);
      continue;
    }
    for (let i = 0; i < n; i++) stb(L, i, load<i32>(LT + (<usize>i << 4) + (<usize>k << 2)));
  }
}

/** makeQkxQuants4 over groups 4g…4g+3 laid out contiguously: x at x0 + k·n floats, weights at w0 + k·n floats,
 * levels at l0 + k·n bytes; scales/−mins to scaleOut/minOut + 4g floats. */
function searchGroup4(
  g: i32,
  n: i32,
  nmax: i32,
  x0: usize,
  w0: usize,
  l0: usize,
  scaleOut: usize,
  minOut: usize,
  rmin: f32,
  rdelta: f32,
  nstep: i32,
  useMad: bool,
  qkx3: bool,
): void {
  for (let k = 0; k < 4; k++) {
    const j = <usize>(4 * g + k);
    store<usize>(PTRS + (<usize>k << 2), x0 + ((j * <usize>n) << 2));
    store<usize>(PTRS + 16 + (<usize>k << 2), w0 + ((j * <usize>n) << 2));
    store<usize>(PTRS + 32 + (<usize>k << 2), l0 + j * <usize>n);
  }
  makeQkxQuants4(n, nmax, PTRS, PTRS + 16, PTRS + 32, scaleOut + (<usize>g << 4), minOut + (<usize>g << 4), rmin, rdelta, nstep, useMad, qkx3);
}

const WXT: usize = memory.data(32 * 16, 16); // w·x, transposed (make_qx_quants sums (w·x)·l)

/**
 * makeQxQuants (rmse_type 1) for four groups of n ≤ 32, lane-parallel like makeQkxQuants4: xp/wp/lp hold four
 * pointers (x, weights, u8 levels); weights are x² when `weightsAreX2`. Scales go to scaleOut[0…3].
 */
function makeQxQuants4(n: i32, nmax: i32, xp: usize, wp: usize, lp: usize, scaleOut: usize, weightsAreX2: bool): void {
  for (let k = 0; k < 4; k++) {
    const x = load<usize>(xp + (<usize>k << 2));
    const w = load<usize>(wp + (<usize>k << 2));
    for (let i = 0; i < n; i++) {
      const xi = ldf(x, i);
      const wi: f32 = weightsAreX2 ? xi * xi : ldf(w, i);
      const o = (<usize>i << 4) + (<usize>k << 2);
      store<f32>(XT + o, xi);
      store<f32>(WT + o, wi);
      store<f32>(WXT + o, wi * xi);
    }
  }
  const zero = f32x4.splat(0);
  let amax = zero;
  let mx = zero;
  for (let i = 0; i < n; i++) {
    const xi = v(XT, i);
    const ax = f32x4.abs(xi);
    const gt = f32x4.gt(ax, amax);
    amax = v128.bitselect(ax, amax, gt);
    mx = v128.bitselect(xi, mx, gt);
  }
  const allZero = f32x4.lt(amax, f32x4.splat(GROUP_MAX_EPS));
  const magic = f32x4.splat(<f32>12582912.0);
  const mantMask = i32x4.splat(0x007fffff);
  const half = i32x4.splat(0x00400000);
  const lo = i32x4.splat(-nmax);
  const hi = i32x4.splat(nmax - 1);
  const off = i32x4.splat(nmax);
  let iscale = f32x4.div(f32x4.splat(<f32>(-nmax)), mx);
  let sumlx = zero;
  let suml2 = zero;
  for (let i = 0; i < n; i++) {
    let l = i32x4.sub(v128.and(f32x4.add(f32x4.mul(iscale, v(XT, i)), magic), mantMask), half);
    l = i32x4.min_s(i32x4.max_s(l, lo), hi);
    vst(LT, i, i32x4.add(l, off));
    const fl = f32x4.convert_i32x4_s(l);
    sumlx = f32x4.add(sumlx, f32x4.mul(v(WXT, i), fl));
    suml2 = f32x4.add(suml2, f32x4.mul(f32x4.mul(v(WT, i), fl), fl));
  }
  let scale = v128.bitselect(f32x4.div(sumlx, suml2), zero, f32x4.ne(suml2, zero));
  let best = f32x4.mul(scale, sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = f32x4.div(f32x4.splat(-(<f32>nmax + F0_1 * <f32>is)), mx);
    sumlx = zero;
    suml2 = zero;
    for (let i = 0; i < n; i++) {
      let l = i32x4.sub(v128.and(f32x4.add(f32x4.mul(iscale, v(XT, i)), magic), mantMask), half);
      l = i32x4.min_s(i32x4.max_s(l, lo), hi);
      vst(LAUXT, i, i32x4.add(l, off));
      const fl = f32x4.convert_i32x4_s(l);
      sumlx = f32x4.add(sumlx, f32x4.mul(v(WXT, i), fl));
      suml2 = f32x4.add(suml2, f32x4.mul(f32x4.mul(v(WT, i), fl), fl));
    }
    const accept = v128.and(f32x4.gt(suml2, zero), f32x4.gt(f32x4.mul(sumlx, sumlx), f32x4.mul(best, suml2)));
    if (!v128.any_true(accept)) continue;
    for (let i = 0; i < n; i++) vst(LT, i, v128.bitselect(v(LAUXT, i), v(LT, i), accept));
    const newScale = f32x4.div(sumlx, suml2);
    scale = v128.bitselect(newScale, scale, accept);
    best = v128.bitselect(f32x4.mul(newScale, sumlx), best, accept);
  }
  v128.store(scaleOut, v128.bitselect(zero, scale, allZero));
  v128.store(OUT4, allZero);
  for (let k = 0; k < 4; k++) {
    const L = load<usize>(lp + (<usize>k << 2));
    if (load<i32>(OUT4 + (<usize>k << 2)) != 0) {
      memory.fill(L, 0, <usize>n);
      continue;
    }
    for (let i = 0; i < n; i++) stb(L, i, load<i32>(LT + (<usize>i << 4) + (<usize>k << 2)));
  }
}

/** makeQxQuants4 over groups 4g…4g+3 laid out contiguously (x0 + k·n floats, w0 + k·n floats, l0 + k·n bytes). */
function qxGroup4(g: i32, n: i32, nmax: i32, x0: usize, w0: usize, l0: usize, scaleOut: usize, weightsAreX2: bool): void {
  for (let k = 0; k < 4; k++) {
    const j = <usize>(4 * g + k);
    store<usize>(PTRS + (<usize>k << 2), x0 + ((j * <usize>n) << 2));
    store<usize>(PTRS + 16 + (<usize>k << 2), w0 + ((j * <usize>n) << 2));
    store<usize>(PTRS + 32 + (<usize>k << 2), l0 + j * <usize>n);
  }
  makeQxQuants4(n, nmax, PTRS, PTRS + 16, PTRS + 32, scaleOut + (<usize>g << 4), weightsAreX2);
}

function makeQpQuants(n: i32, nmax: i32, x: usize, L: usize, qw: usize): f32 {
  let mx: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    mx = mx > v ? mx : v;
  }
  if (mx < GROUP_MAX_EPS) {
    memory.fill(L, 0, <usize>n);
    return 0;
  }
  let iscale: f32 = <f32>nmax / mx;
  for (let i = 0; i < n; i++) stb(L, i, nearestInt(iscale * ldf(x, i)));
  const scale: f32 = <f32>1 / iscale;
  let bestMse: f32 = 0;
  for (let i = 0; i < n; i++) {
    const diff: f32 = ldf(x, i) - scale * <f32>ldb(L, i);
    bestMse += ldf(qw, i) * diff * diff;
  }
  for (let is = -4; is <= 4; is++) {
    if (is == 0) continue;
    const iscaleIs: f32 = (F0_1 * <f32>is + <f32>nmax) / mx;
    const scaleIs: f32 = <f32>1 / iscaleIs;
    let mse: f32 = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(iscaleIs * ldf(x, i));
      if (l > nmax) l = nmax;
      const diff: f32 = ldf(x, i) - scaleIs * <f32>l;
      mse += ldf(qw, i) * diff * diff;
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx: f32 = 0;
  let suml2: f32 = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(iscale * ldf(x, i));
    if (l > nmax) l = nmax;
    stb(L, i, l);
    const w = ldf(qw, i);
    const fl = <f32>l;
    sumlx += w * ldf(x, i) * fl;
    suml2 += w * fl * fl;
  }
  for (let itry = 0; itry < 5; itry++) {
    let nChanged = 0;
    for (let i = 0; i < n; i++) {
      const w = ldf(qw, i);
      const v = ldf(x, i);
      const li = ldb(L, i);
      const fli = <f32>li;
      let slx: f32 = sumlx - w * v * fli;
      let sl2: f32 = suml2 - w * fli * fli;
      if (slx > 0 && sl2 > 0) {
        let newL = nearestInt((v * sl2) / slx);
        if (newL > nmax) newL = nmax;
        if (newL != li) {
          const fn = <f32>newL;
          slx += w * v * fn;
          sl2 += w * fn * fn;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            stb(L, i, newL);
            sumlx = slx;
            suml2 = sl2;
            nChanged++;
          }
        }
      }
    }
    if (nChanged == 0) break;
  }
  return suml2 > 0 ? sumlx / suml2 : 0;
}

// ---------------------------------------------------------------- legacy 32-element types (legacy.ts)

function rowSigma2(x: usize, nPerRow: i32): f32 {
  let s: f32 = 0;
  for (let j = 0; j < nPerRow; j++) {
    const v = ldf(x, j);
    s += v * v;
  }
  return s / <f32>nPerRow;
}

function blockWeights(x: usize, qw: usize, sigma2: f32): void {
  for (let j = 0; j < 32; j++) {
    const v = ldf(x, j);
    stf(WGT, j, ldf(qw, j) * sqrt<f32>(sigma2 + v * v));
  }
}

/** Packs 32 five-bit levels from LEV into qs / qh (qh bit j = bit 4 of element j). */
function pack5(qhp: usize, qsp: usize): void {
  let qh: u32 = 0;
  for (let j = 0; j < 16; j++) {
    const xi0 = ldb(LEV, j);
    const xi1 = ldb(LEV, j + 16);
    stb(qsp, j, (xi0 & 0x0f) | ((xi1 & 0x0f) << 4));
    qh |= (<u32>((xi0 & 0x10) >> 4)) << j;
    qh |= (<u32>((xi1 & 0x10) >> 4)) << (j + 16);
  }
  store<u32>(qhp, qh);
}

/** The imatrix paths of Q4_0 / Q4_1 / Q5_0 / Q5_1 (quantize_row_q*_impl), row by row. */
function legacyImatrix(type: i32, x: usize, nrows: i32, nPerRow: i32, qw: usize, y: usize): void {
  const nb = nPerRow / 32;
  for (let r = 0; r < nrows; r++) {
    const xr = x + (<usize>r * <usize>nPerRow << 2);
    const sigma2 = rowSigma2(xr, nPerRow);
    if (type == 2 || type == 6) {
      // make_qx_quants for four blocks at a time; the tail goes through the scalar loop below
      const nmax = type == 2 ? 8 : 16;
      const bytes = type == 2 ? 18 : 22;
      const groups = nb >> 2;
      for (let g = 0; g < groups; g++) {
        const xg = xr + (<usize>g << 9);
        for (let k = 0; k < 4; k++) {
          const xb = xg + (<usize>k << 7);
          const qb = qw + (<usize>(4 * g + k) << 7);
          for (let j = 0; j < 32; j++) {
            const v = ldf(xb, j);
            stf(WGTALL, 32 * k + j, ldf(qb, j) * sqrt<f32>(sigma2 + v * v));
          }
        }
        qxGroup4(0, 32, nmax, xg, WGTALL, LEV, SCALES, false);
        for (let k = 0; k < 4; k++) {
          st16(y, fp32ToFp16(ldf(SCALES, k)));
          if (type == 2) {
            for (let j = 0; j < 16; j++) stb(y, 2 + j, ldb(LEV, 32 * k + j) | (ldb(LEV, 32 * k + j + 16) << 4));
          } else {
            if (k != 0) memory.copy(LEV, LEV + <usize>(32 * k), 32);
            pack5(y + 2, y + 6);
          }
          y += <usize>bytes;
        }
      }
      for (let ib = groups << 2; ib < nb; ib++) {
        const xb = xr + (<usize>ib << 7);
        blockWeights(xb, qw + (<usize>ib << 7), sigma2);
        const d = makeQxQuants(32, nmax, xb, LEV, WGT);
        st16(y, fp32ToFp16(d));
        if (type == 2) {
          for (let j = 0; j < 16; j++) stb(y, 2 + j, ldb(LEV, j) | (ldb(LEV, j + 16) << 4));
        } else {
          pack5(y + 2, y + 6);
        }
        y += <usize>bytes;
      }
      continue;
    }
    if (type == 3 || type == 7) {
      // make_qkx3_quants for four blocks at a time; the tail goes through the scalar loop below
      const nmax = type == 3 ? 15 : 31;
      const bytes = type == 3 ? 20 : 24;
      const groups = nb >> 2;
      for (let g = 0; g < groups; g++) {
        const xg = xr + (<usize>g << 9);
        for (let k = 0; k < 4; k++) {
          const xb = xg + (<usize>k << 7);
          const qb = qw + (<usize>(4 * g + k) << 7);
          for (let j = 0; j < 32; j++) {
            const v = ldf(xb, j);
            stf(WGTALL, 32 * k + j, ldf(qb, j) * sqrt<f32>(sigma2 + v * v));
          }
        }
        searchGroup4(0, 32, nmax, xg, WGTALL, LEV, SCALES, MINS, RMIN_IM, RDELTA_IM, 36, false, true);
        for (let k = 0; k < 4; k++) {
          st16(y, fp32ToFp16(ldf(SCALES, k)));
          st16(y + 2, fp32ToFp16(-ldf(MINS, k)));
          if (type == 3) {
            for (let j = 0; j < 16; j++) stb(y, 4 + j, ldb(LEV, 32 * k + j) | (ldb(LEV, 32 * k + j + 16) << 4));
          } else {
            if (k != 0) memory.copy(LEV, LEV + <usize>(32 * k), 32);
            pack5(y + 4, y + 8);
          }
          y += <usize>bytes;
        }
      }
      for (let ib = groups << 2; ib < nb; ib++) {
        const xb = xr + (<usize>ib << 7);
        blockWeights(xb, qw + (<usize>ib << 7), sigma2);
        const d = makeQkxQuants(32, nmax, xb, WGT, LEV, MINS, RMIN_IM, RDELTA_IM, 36, false, true);
        st16(y, fp32ToFp16(d));
        st16(y + 2, fp32ToFp16(-load<f32>(MINS)));
        if (type == 3) {
          for (let j = 0; j < 16; j++) stb(y, 4 + j, ldb(LEV, j) | (ldb(LEV, j + 16) << 4));
        } else {
          pack5(y + 4, y + 8);
        }
        y += <usize>bytes;
      }
      continue;
    }
    for (let ib = 0; ib < nb; ib++) {
      const xb = xr + (<usize>ib << 7);
      blockWeights(xb, qw + (<usize>ib << 7), sigma2);
      if (type == 2) {
        const d = makeQxQuants(32, 8, xb, LEV, WGT);
        st16(y, fp32ToFp16(d));
        for (let j = 0; j < 16; j++) stb(y, 2 + j, ldb(LEV, j) | (ldb(LEV, j + 16) << 4));
        y += 18;
      } else if (type == 3) {
        const d = makeQkxQuants(32, 15, xb, WGT, LEV, MINS, RMIN_IM, RDELTA_IM, 36, false, true);
        st16(y, fp32ToFp16(d));
        st16(y + 2, fp32ToFp16(-load<f32>(MINS)));
        for (let j = 0; j < 16; j++) stb(y, 4 + j, ldb(LEV, j) | (ldb(LEV, j + 16) << 4));
        y += 20;
      } else if (type == 6) {
        const d = makeQxQuants(32, 16, xb, LEV, WGT);
        st16(y, fp32ToFp16(d));
        pack5(y + 2, y + 6);
        y += 22;
      } else {
        const d = makeQkxQuants(32, 31, xb, WGT, LEV, MINS, RMIN_IM, RDELTA_IM, 36, false, true);
        st16(y, fp32ToFp16(d));
        st16(y + 2, fp32ToFp16(-load<f32>(MINS)));
        pack5(y + 4, y + 8);
        y += 24;
      }
    }
  }
}

// ---------------------------------------------------------------- legacy reference paths, 4 lanes (SIMD)
//
// Elementwise work per lane; the per-block reductions (max |x| with its first index, min, max) are order-free
// comparisons, resolved to C's "first index wins" explicitly.

/** cvtt (x86 cvttss2si) lane-wise: truncation, INT_MIN for NaN and out-of-range lanes. */
@inline function cvtt4(a: v128): v128 {
  const inRange = v128.and(f32x4.lt(a, f32x4.splat(<f32>2147483648.0)), f32x4.ge(a, f32x4.splat(<f32>-2147483648.0)));
  return v128.bitselect(i32x4.trunc_sat_f32x4_s(a), i32x4.splat(i32.MIN_VALUE), inRange);
}

/** (int8_t) of an int, lane-wise. */
@inline function wrapI8x4(a: v128): v128 {
  return i32x4.shr_s(i32x4.shl(a, 24), 24);
}

/** Four i32x4 of byte values (0…255) to one v128 of 16 bytes. */
@inline function bytes16(a: v128, b: v128, c: v128, d: v128): v128 {
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(a, b), i16x8.narrow_i32x4_u(c, d));
}

/** The signed value at the first index of the largest |x| among 32 floats (0 when all are ±0). */
function signedAbsMax32(x: usize): f32 {
  let amax = f32x4.splat(0);
  let idx = i32x4.splat(0);
  let lane = i32x4(0, 1, 2, 3);
  for (let q = 0; q < 8; q++) {
    const a = f32x4.abs(v128.load(x + (<usize>q << 4)));
    const gt = f32x4.gt(a, amax);
    amax = v128.bitselect(a, amax, gt);
    idx = v128.bitselect(lane, idx, gt);
    lane = i32x4.add(lane, i32x4.splat(4));
  }
  let best: f32 = 0;
  let bestIdx = 32;
  const a0 = f32x4.extract_lane(amax, 0);
  const a1 = f32x4.extract_lane(amax, 1);
  const a2 = f32x4.extract_lane(amax, 2);
  const a3 = f32x4.extract_lane(amax, 3);
  const j0 = i32x4.extract_lane(idx, 0);
  const j1 = i32x4.extract_lane(idx, 1);
  const j2 = i32x4.extract_lane(idx, 2);
  const j3 = i32x4.extract_lane(idx, 3);
  if (a0 > best || (a0 == best && a0 > 0 && j0 < bestIdx)) { best = a0; bestIdx = j0; }
  if (a1 > best || (a1 == best && a1 > 0 && j1 < bestIdx)) { best = a1; bestIdx = j1; }
  if (a2 > best || (a2 == best && a2 > 0 && j2 < bestIdx)) { best = a2; bestIdx = j2; }
  if (a3 > best || (a3 == best && a3 > 0 && j3 < bestIdx)) { best = a3; bestIdx = j3; }
  return best > 0 ? ldf(x, bestIdx) : 0;
}

/** C's `if (v < min) min = v; if (v > max) max = v;` over 32 floats from ±FLT_MAX, into OUT4[4], OUT4[5]. */
function minMax32(x: usize): void {
  let mn = f32x4.splat(f32.MAX_VALUE);
  let mx = f32x4.splat(-f32.MAX_VALUE);
  for (let q = 0; q < 8; q++) {
    const a = v128.load(x + (<usize>q << 4));
    mn = v128.bitselect(a, mn, f32x4.lt(a, mn));
    mx = v128.bitselect(a, mx, f32x4.gt(a, mx));
  }
  let m0 = f32x4.extract_lane(mn, 0);
  let a = f32x4.extract_lane(mn, 1);
  if (a < m0) m0 = a;
  a = f32x4.extract_lane(mn, 2);
  if (a < m0) m0 = a;
  a = f32x4.extract_lane(mn, 3);
  if (a < m0) m0 = a;
  let m1 = f32x4.extract_lane(mx, 0);
  a = f32x4.extract_lane(mx, 1);
  if (a > m1) m1 = a;
  a = f32x4.extract_lane(mx, 2);
  if (a > m1) m1 = a;
  a = f32x4.extract_lane(mx, 3);
  if (a > m1) m1 = a;
  // equal values have equal bits except ±0, where C keeps the first one encountered
  if (m0 == 0) for (let j = 0; j < 32; j++) if (ldf(x, j) == 0) { m0 = ldf(x, j); break; }
  if (m1 == 0) for (let j = 0; j < 32; j++) if (ldf(x, j) == 0) { m1 = ldf(x, j); break; }
  store<f32>(OUT4 + 16, m0);
  store<f32>(OUT4 + 20, m1);
}

/** Four lanes of MIN(cap, (int8_t)(v)) & 0xff, with v = a·id + add (or (a − min)·id + add). */
@inline function legacyLevels(a: v128, sub: v128, id: v128, add: v128, cap: v128): v128 {
  const t = f32x4.add(f32x4.mul(f32x4.sub(a, sub), id), add);
  return v128.and(i32x4.min_s(wrapI8x4(cvtt4(t)), cap), i32x4.splat(0xff));
}

/** quantize_row_q4_0_ref / q4_1_ref / q5_0_ref / q5_1_ref over nb blocks (type = ggml type id). */
function legacyRef(type: i32, x: usize, nb: i32, y: usize): void {
  const asym = type == 3 || type == 7;
  const five = type == 6 || type == 7;
  const bytes: usize = type == 2 ? 18 : type == 3 ? 20 : type == 6 ? 22 : 24;
  const qsOff: usize = type == 2 ? 2 : type == 3 ? 4 : type == 6 ? 6 : 8;
  const add = f32x4.splat(asym ? <f32>0.5 : five ? <f32>16.5 : <f32>8.5);
  // Q5_1 has no MIN(31, ·): a cap of 255 leaves the masked byte unchanged
  const cap = i32x4.splat(type == 2 || type == 3 ? 15 : type == 6 ? 31 : 255);
  for (let i = 0; i < nb; i++, x += 128, y += bytes) {
    let d: f32;
    let sub = f32x4.splat(0);
    if (asym) {
      minMax32(x);
      const mn = load<f32>(OUT4 + 16);
      const mx = load<f32>(OUT4 + 20);
      d = (mx - mn) / <f32>(five ? 31 : 15);
      st16(y + 2, fp32ToFp16(mn));
      sub = f32x4.splat(mn);
    } else {
      d = signedAbsMax32(x) / <f32>(five ? -16 : -8);
    }
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    st16(y, fp32ToFp16(d));
    const idv = f32x4.splat(id);
    const l0 = legacyLevels(v128.load(x), sub, idv, add, cap);
    const l1 = legacyLevels(v128.load(x + 16), sub, idv, add, cap);
    const l2 = legacyLevels(v128.load(x + 32), sub, idv, add, cap);
    const l3 = legacyLevels(v128.load(x + 48), sub, idv, add, cap);
    const h0 = legacyLevels(v128.load(x + 64), sub, idv, add, cap);
    const h1 = legacyLevels(v128.load(x + 80), sub, idv, add, cap);
    const h2 = legacyLevels(v128.load(x + 96), sub, idv, add, cap);
    const h3 = legacyLevels(v128.load(x + 112), sub, idv, add, cap);
    const lo = bytes16(l0, l1, l2, l3);
    const hi = bytes16(h0, h1, h2, h3);
    if (five) {
      const nib = i8x16.splat(0x0f);
      v128.store(y + qsOff, v128.or(v128.and(lo, nib), i8x16.shl(v128.and(hi, nib), 4)));
      const qh: u32 = <u32>i8x16.bitmask(i8x16.shl(lo, 3)) | (<u32>i8x16.bitmask(i8x16.shl(hi, 3)) << 16);
      store<u32>(y + qsOff - 4, qh);
    } else {
      v128.store(y + qsOff, v128.or(lo, i8x16.shl(hi, 4)));
    }
  }
}

/** quantize_row_q8_0_ref: roundf (half away from zero) lane-wise, 32 values per block. */
function q8_0Simd(x: usize, nb: i32, y: usize): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const signBit = i32x4.splat(0x80000000);
  const mask = i32x4.splat(0xff);
  for (let i = 0; i < nb; i++, x += 128, y += 34) {
    let am = f32x4.abs(v128.load(x));
    for (let q = 1; q < 8; q++) am = f32x4.max(am, f32x4.abs(v128.load(x + (<usize>q << 4))));
    let amax: f32 = 0;
    let a = f32x4.extract_lane(am, 0);
    amax = amax > a ? amax : a;
    a = f32x4.extract_lane(am, 1);
    amax = amax > a ? amax : a;
    a = f32x4.extract_lane(am, 2);
    amax = amax > a ? amax : a;
    a = f32x4.extract_lane(am, 3);
    amax = amax > a ? amax : a;
    const d: f32 = amax / <f32>127;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    st16(y, fp32ToFp16(d));
    const idv = f32x4.splat(id);
    for (let h = 0; h < 2; h++) {
      const base = x + (<usize>h << 6);
      let r0 = v128.load(base);
      let q0 = f32x4.splat(0);
      let q1 = f32x4.splat(0);
      let q2 = f32x4.splat(0);
      let q3 = f32x4.splat(0);
      for (let q = 0; q < 4; q++) {
        r0 = f32x4.mul(v128.load(base + (<usize>q << 4)), idv);
        const t = f32x4.trunc(r0);
        const away = f32x4.ge(f32x4.abs(f32x4.sub(r0, t)), half);
        const r = f32x4.add(t, v128.and(v128.or(one, v128.and(r0, signBit)), away));
        const b = v128.and(cvtt4(r), mask);
        if (q == 0) q0 = b;
        else if (q == 1) q1 = b;
        else if (q == 2) q2 = b;
        else q3 = b;
      }
      v128.store(y + 2 + (<usize>h << 4), bytes16(q0, q1, q2, q3));
    }
  }
}

// ---------------------------------------------------------------- K-quant layouts (kquant-layout.ts)

/**
 * Requantizes 16 elements lane-wise: nearest_int((x + m) / d) (or x / d when `addM` is false), clamped to
 * [lo, hi], plus `off`; the 16 levels are written as bytes to LEV + lOff.
 */
@inline function requant16(x: usize, m: f32, addM: bool, d: f32, lo: i32, hi: i32, off: i32, lOff: usize): void {
  const dv = f32x4.splat(d);
  const mv = f32x4.splat(m);
  const magic = f32x4.splat(<f32>12582912.0);
  const mantMask = i32x4.splat(0x007fffff);
  const half = i32x4.splat(0x00400000);
  const lov = i32x4.splat(lo);
  const hiv = i32x4.splat(hi);
  const offv = i32x4.splat(off);
  let a0 = v128.load(x);
  let a1 = v128.load(x + 16);
  let a2 = v128.load(x + 32);
  let a3 = v128.load(x + 48);
  if (addM) {
    a0 = f32x4.add(a0, mv);
    a1 = f32x4.add(a1, mv);
    a2 = f32x4.add(a2, mv);
    a3 = f32x4.add(a3, mv);
  }
  const l0 = i32x4.add(i32x4.min_s(i32x4.max_s(i32x4.sub(v128.and(f32x4.add(f32x4.div(a0, dv), magic), mantMask), half), lov), hiv), offv);
  const l1 = i32x4.add(i32x4.min_s(i32x4.max_s(i32x4.sub(v128.and(f32x4.add(f32x4.div(a1, dv), magic), mantMask), half), lov), hiv), offv);
  const l2 = i32x4.add(i32x4.min_s(i32x4.max_s(i32x4.sub(v128.and(f32x4.add(f32x4.div(a2, dv), magic), mantMask), half), lov), hiv), offv);
  const l3 = i32x4.add(i32x4.min_s(i32x4.max_s(i32x4.sub(v128.and(f32x4.add(f32x4.div(a3, dv), magic), mantMask), half), lov), hiv), offv);
  v128.store(LEV + lOff, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(l0, l1), i16x8.narrow_i32x4_u(l2, l3)));
}

function pack2Bit(y: usize): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let h = 0; h < 32; h += 16) {
      const b = LEV + <usize>(j + h);
      const q = v128.or(
        v128.or(v128.load(b), i8x16.shl(v128.load(b + 32), 2)),
        v128.or(i8x16.shl(v128.load(b + 64), 4), i8x16.shl(v128.load(b + 96), 6)),
      );
      v128.store(y + <usize>(j / 4 + h), q);
    }
  }
}

function packScaleMinK4(s: usize, j: i32, ls: i32, lm: i32): void {
  if (j < 4) {
    stb(s, j, ls);
    stb(s, j + 4, lm);
  } else {
    stb(s, j + 4, (ls & 0xf) | ((lm & 0xf) << 4));
    orb(s, j - 4, (ls >> 4) << 6);
    orb(s, j, (lm >> 4) << 6);
  }
}

@inline function scaleK4(q: usize, j: i32): i32 {
  return j < 4 ? ldb(q, j) & 63 : (ldb(q, j + 4) & 0xf) | ((ldb(q, j - 4) >> 6) << 4);
}
@inline function minK4(q: usize, j: i32): i32 {
  return j < 4 ? ldb(q, j + 4) & 63 : (ldb(q, j + 4) >> 4) | ((ldb(q, j) >> 6) << 4);
}

function packScaleQ3K(s: usize, j: i32, l: i32): void {
  if (j < 8) stb(s, j, l & 0xf);
  else orb(s, j - 8, (l & 0xf) << 4);
  orb(s, 8 + (j % 4), (l >> 4) << (2 * (j >> 2)));
}

@inline function scaleQ3K(q: usize, j: i32): i32 {
  const lo = j < 8 ? ldb(q, j) & 0xf : ldb(q, j - 8) >> 4;
  return lo | (((ldb(q, 8 + (j % 4)) >> (2 * (j >> 2))) & 3) << 4);
}

function superSigma2(x: usize, twice: bool): f32 {
  let s: f32 = 0;
  for (let j = 0; j < QK_K; j++) {
    const v = ldf(x, j);
    s += v * v;
  }
  return twice ? (<f32>2 * s) / <f32>QK_K : s / <f32>QK_K;
}

// ---------------------------------------------------------------- Q2_K (q2k.ts)

function q2kRequantize(x: usize, y: usize): void {
  const dAll = ld16f(y + 80);
  const mAll = ld16f(y + 82);
  for (let j = 0; j < 16; j++) {
    const sc = ldb(y, j);
    const d: f32 = dAll * <f32>(sc & 0xf);
    if (d == 0) continue;
    const m: f32 = mAll * <f32>(sc >> 4);
    requant16(x + (<usize>j << 6), m, true, d, 0, 3, 0, <usize>(16 * j));
  }
  pack2Bit(y + 16);
}

function q2kBlock(x: usize, qw: usize, y: usize): void {
  if (qw == 0) {
    let maxScale: f32 = 0;
    let maxMin: f32 = 0;
    for (let l = 0; l < QK_K; l++) stf(WGTALL, l, abs<f32>(ldf(x, l)));
    for (let g = 0; g < 4; g++) searchGroup4(g, 16, 3, x, WGTALL, LEV, SCALES, MINS, <f32>-0.5, F0_1, 15, true, false);
    for (let j = 0; j < 16; j++) {
      const scale = ldf(SCALES, j);
      if (scale > maxScale) maxScale = scale;
      const mn = ldf(MINS, j);
      if (mn > maxMin) maxMin = mn;
    }
    if (maxScale > 0) {
      const iscale: f32 = <f32>15 / maxScale;
      for (let j = 0; j < 16; j++) stb(y, j, nearestInt(iscale * ldf(SCALES, j)));
      st16(y + 80, fp32ToFp16(maxScale / <f32>15));
    } else {
      memory.fill(y, 0, 16);
      st16(y + 80, 0);
    }
    if (maxMin > 0) {
      const iscale: f32 = <f32>15 / maxMin;
      for (let j = 0; j < 16; j++) orb(y, j, nearestInt(iscale * ldf(MINS, j)) << 4);
      st16(y + 82, fp32ToFp16(maxMin / <f32>15));
    } else {
      st16(y + 82, 0);
    }
  } else {
    const sigma2 = superSigma2(x, false);
    for (let j = 0; j < 16; j++) {
      let s: f32 = 0;
      for (let l = 0; l < 16; l++) {
        const v = ldf(x, 16 * j + l);
        const w: f32 = ldf(qw, 16 * j + l) * sqrt<f32>(sigma2 + v * v);
        stf(WGTALL, 16 * j + l, w);
      }
      for (let l = 0; l < 16; l++) s += ldf(WGTALL, 16 * j + l);
      stf(SW, j, s);
    }
    for (let g = 0; g < 4; g++) searchGroup4(g, 16, 3, x, WGTALL, LEV, SCALES, MINS, RMIN_IM, RDELTA_IM, 36, false, true);
    const dm = makeQpQuants(16, 15, SCALES, LS, SW);
    const mm = makeQpQuants(16, 15, MINS, LM, SW);
    st16(y + 80, fp32ToFp16(dm));
    st16(y + 82, fp32ToFp16(mm));
    for (let j = 0; j < 16; j++) stb(y, j, ldb(LS, j) | (ldb(LM, j) << 4));
  }
  q2kRequantize(x, y);
}

// ---------------------------------------------------------------- Q3_K (q3k.ts)

function q3kBlock(x: usize, qw: usize, y: usize): void {
  const sp = y + 96;
  if (qw == 0) {
    let maxScale: f32 = 0;
    let amax: f32 = 0;
    for (let j = 0; j < 16; j++) {
      const s = makeQ3Quants(16, 4, x + (<usize>j << 6), LEV + <usize>(16 * j));
      stf(SCALES, j, s);
      const a = abs<f32>(s);
      if (a > amax) {
        amax = a;
        maxScale = s;
      }
    }
    memory.fill(sp, 0, 12);
    if (maxScale != 0) {
      const iscale: f32 = <f32>-32 / maxScale;
      for (let j = 0; j < 16; j++) {
        let l = (nearestInt(iscale * ldf(SCALES, j)) << 24) >> 24;
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        packScaleQ3K(sp, j, l);
      }
      st16(y + 108, fp32ToFp16(<f32>1 / iscale));
    } else {
      st16(y + 108, 0);
    }
  } else {
    const sigma2 = superSigma2(x, true);
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) {
        const v = ldf(x, 16 * j + l);
        stf(WGTALL, 16 * j + l, ldf(qw, 16 * j + l) * sqrt<f32>(sigma2 + v * v));
      }
      let s: f32 = 0;
      for (let l = 0; l < 16; l++) s += ldf(WGTALL, 16 * j + l);
      stf(SW, j, s);
    }
    for (let g = 0; g < 4; g++) qxGroup4(g, 16, 4, x, WGTALL, LEV, SCALES, false);
    memory.fill(sp, 0, 12);
    const dBlock = makeQxQuants(16, 32, SCALES, LS, SW);
    for (let j = 0; j < 16; j++) packScaleQ3K(sp, j, ldb(LS, j));
    st16(y + 108, fp32ToFp16(dBlock));
  }
  const dAll = ld16f(y + 108);
  for (let j = 0; j < 16; j++) {
    const d: f32 = dAll * <f32>(scaleQ3K(sp, j) - 32);
    if (d == 0) continue;
    requant16(x + (<usize>j << 6), 0, false, d, -4, 3, 4, <usize>(16 * j));
  }
  // high bit of element e = 32b + m goes to hmask[m] bit b; then L −= 4
  let hm0 = i8x16.splat(0);
  let hm1 = i8x16.splat(0);
  const three = i8x16.splat(3);
  const four = i8x16.splat(4);
  for (let b = 0; b < 8; b++) {
    const p = LEV + (<usize>b << 5);
    const bitI: i32 = 1 << b;
    const bit = i8x16.splat(<i8>bitI);
    const l0 = v128.load(p);
    const l1 = v128.load(p + 16);
    const g0 = i8x16.gt_u(l0, three);
    const g1 = i8x16.gt_u(l1, three);
    hm0 = v128.or(hm0, v128.and(g0, bit));
    hm1 = v128.or(hm1, v128.and(g1, bit));
    v128.store(p, i8x16.sub(l0, v128.and(g0, four)));
    v128.store(p + 16, i8x16.sub(l1, v128.and(g1, four)));
  }
  v128.store(y, hm0);
  v128.store(y + 16, hm1);
  pack2Bit(y + 32);
}

// ---------------------------------------------------------------- Q4_K / Q5_K (q4k.ts, q5k.ts)

function k45Block(x: usize, qw: usize, nmax: i32, rminRef: f32, nstepRef: i32, capAt63: bool, y: usize): void {
  const sp = y + 4;
  if (qw == 0) {
    let maxScale: f32 = 0;
    let maxMin: f32 = 0;
    for (let j = 0; j < 8; j++) {
      const xs = x + (<usize>j << 7);
      let sumX2: f32 = 0;
      for (let l = 0; l < 32; l++) {
        const v = ldf(xs, l);
        sumX2 += v * v;
      }
      const avX: f32 = sqrt<f32>(sumX2 / <f32>32);
      for (let l = 0; l < 32; l++) stf(WGTALL, 32 * j + l, avX + abs<f32>(ldf(xs, l)));
    }
    for (let g = 0; g < 2; g++) searchGroup4(g, 32, nmax, x, WGTALL, LEV, SCALES, MINS, rminRef, F0_1, nstepRef, false, false);
    for (let j = 0; j < 8; j++) {
      const scale = ldf(SCALES, j);
      if (scale > maxScale) maxScale = scale;
      const mn = ldf(MINS, j);
      if (mn > maxMin) maxMin = mn;
    }
    const invScale: f32 = maxScale > 0 ? <f32>63 / maxScale : 0;
    const invMin: f32 = maxMin > 0 ? <f32>63 / maxMin : 0;
    for (let j = 0; j < 8; j++) {
      let ls = nearestInt(invScale * ldf(SCALES, j)) & 0xff;
      let lm = nearestInt(invMin * ldf(MINS, j)) & 0xff;
      ls = ls < 63 ? ls : 63;
      lm = lm < 63 ? lm : 63;
      packScaleMinK4(sp, j, ls, lm);
    }
    st16(y, fp32ToFp16(maxScale / <f32>63));
    st16(y + 2, fp32ToFp16(maxMin / <f32>63));
  } else {
    const sigma2 = superSigma2(x, true);
    for (let j = 0; j < 8; j++) {
      for (let l = 0; l < 32; l++) {
        const v = ldf(x, 32 * j + l);
        stf(WGTALL, 32 * j + l, ldf(qw, 32 * j + l) * sqrt<f32>(sigma2 + v * v));
      }
      let s: f32 = 0;
      for (let l = 0; l < 32; l++) s += ldf(WGTALL, 32 * j + l);
      stf(SW, j, s);
    }
    for (let g = 0; g < 2; g++) searchGroup4(g, 32, nmax, x, WGTALL, LEV, SCALES, MINS, RMIN_IM, RDELTA_IM, 36, false, true);
    const dBlock = makeQpQuants(8, 63, SCALES, LS, SW);
    const mBlock = makeQpQuants(8, 63, MINS, LM, SW);
    for (let j = 0; j < 8; j++) {
      let ls = ldb(LS, j);
      let lm = ldb(LM, j);
      if (capAt63) {
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
      }
      packScaleMinK4(sp, j, ls, lm);
    }
    st16(y, fp32ToFp16(dBlock));
    st16(y + 2, fp32ToFp16(mBlock));
  }
  const dAll = ld16f(y);
  const mAll = ld16f(y + 2);
  for (let j = 0; j < 8; j++) {
    const d: f32 = dAll * <f32>scaleK4(sp, j);
    if (d == 0) continue;
    const dm: f32 = mAll * <f32>minK4(sp, j);
    requant16(x + (<usize>j << 7), dm, true, d, 0, nmax, 0, <usize>(32 * j));
    requant16(x + (<usize>j << 7) + 64, dm, true, d, 0, nmax, 0, <usize>(32 * j + 16));
  }
}

function q4kBlock(x: usize, qw: usize, y: usize): void {
  k45Block(x, qw, 15, <f32>-1, 20, false, y);
  for (let j = 0, q = y + 16; j < QK_K; j += 64, q += 32) {
    const b = LEV + <usize>j;
    v128.store(q, v128.or(v128.load(b), i8x16.shl(v128.load(b + 32), 4)));
    v128.store(q + 16, v128.or(v128.load(b + 16), i8x16.shl(v128.load(b + 48), 4)));
  }
}

function q5kBlock(x: usize, qw: usize, y: usize): void {
  k45Block(x, qw, 31, <f32>-0.5, 15, true, y);
  // element n + j (< 32 within each 64-chunk c) → ql low nibble, bit 4 → qh[j] bit 2c; n + j + 32 → high nibble, bit 2c+1
  let qh0 = i8x16.splat(0);
  let qh1 = i8x16.splat(0);
  const fifteen = i8x16.splat(15);
  const sixteen = i8x16.splat(16);
  for (let c = 0; c < 4; c++) {
    const b = LEV + (<usize>c << 6);
    const ql = y + 48 + (<usize>c << 5);
    const m1I: i32 = 1 << (2 * c);
    const m2I: i32 = 2 << (2 * c);
    const m1 = i8x16.splat(<i8>m1I);
    const m2 = i8x16.splat(<i8>m2I);
    for (let h = 0; h < 2; h++) {
      const a = v128.load(b + (<usize>h << 4));
      const e = v128.load(b + 32 + (<usize>h << 4));
      const ga = i8x16.gt_u(a, fifteen);
      const ge = i8x16.gt_u(e, fifteen);
      const bits = v128.or(v128.and(ga, m1), v128.and(ge, m2));
      if (h == 0) qh0 = v128.or(qh0, bits);
      else qh1 = v128.or(qh1, bits);
      const lo = i8x16.sub(a, v128.and(ga, sixteen));
      const hi = i8x16.sub(e, v128.and(ge, sixteen));
      v128.store(ql + (<usize>h << 4), v128.or(lo, i8x16.shl(hi, 4)));
    }
  }
  v128.store(y + 16, qh0);
  v128.store(y + 32, qh1);
}

// ---------------------------------------------------------------- Q6_K (q6k.ts)

function q6kBlock(x: usize, qw: usize, y: usize): void {
  let maxScale: f32 = 0;
  let maxAbsScale: f32 = 0;
  for (let g = 0; g < 4; g++) qxGroup4(g, 16, 32, x, qw, LEV, SCALES, qw == 0);
  for (let ib = 0; ib < 16; ib++) {
    const scale = ldf(SCALES, ib);
    const a = abs<f32>(scale);
    if (a > maxAbsScale) {
      maxAbsScale = a;
      maxScale = scale;
    }
  }
  if (maxAbsScale < GROUP_MAX_EPS) {
    memory.fill(y, 0, 210);
    return;
  }
  const iscale: f32 = <f32>-128 / maxScale;
  st16(y + 208, fp32ToFp16(<f32>1 / iscale));
  for (let ib = 0; ib < 16; ib++) {
    const l = nearestInt(iscale * ldf(SCALES, ib));
    stb(y + 192, ib, l < 127 ? l : 127);
  }
  const dAll = ld16f(y + 208);
  for (let j = 0; j < 16; j++) {
    const d: f32 = dAll * <f32>load<i8>(y + 192 + <usize>j);
    if (d == 0) continue;
    requant16(x + (<usize>j << 6), 0, false, d, -32, 31, 32, <usize>(16 * j));
  }
  const nib = i8x16.splat(0x0f);
  for (let j = 0, ql = y, qh = y + 128; j < QK_K; j += 128, ql += 64, qh += 32) {
    for (let h = 0; h < 32; h += 16) {
      const p = LEV + <usize>(j + h);
      const a = v128.load(p);
      const b = v128.load(p + 32);
      const c = v128.load(p + 64);
      const e = v128.load(p + 96);
      v128.store(ql + <usize>h, v128.or(v128.and(a, nib), i8x16.shl(v128.and(c, nib), 4)));
      v128.store(ql + <usize>(h + 32), v128.or(v128.and(b, nib), i8x16.shl(v128.and(e, nib), 4)));
      const hb = v128.or(
        v128.or(i8x16.shr_u(a, 4), i8x16.shl(i8x16.shr_u(b, 4), 2)),
        v128.or(i8x16.shl(i8x16.shr_u(c, 4), 4), i8x16.shl(i8x16.shr_u(e, 4), 6)),
      );
      v128.store(qh + <usize>h, hb);
    }
  }
}

// ---------------------------------------------------------------- entry point

/**
 * == ggml_quantize_chunk(type, src, dst, 0, nrows, nPerRow, imatrix) for the block types; imatrix 0 = NULL.
 * Returns 0, or −1 for a type this module does not handle.
 */
export function quantize(type: i32, src: usize, nrows: i32, nPerRow: i32, imatrix: usize, dst: usize): i32 {
  const nb32 = (nrows * nPerRow) / 32;
  if (type == 8) {
    q8_0Simd(src, nb32, dst);
    return 0;
  }
  if (type == 2 || type == 3 || type == 6 || type == 7) {
    if (imatrix != 0) legacyImatrix(type, src, nrows, nPerRow, imatrix, dst);
    else legacyRef(type, src, nb32, dst);
    return 0;
  }
  if (type == 39 || type == 40) return quantizeFp4(type, src, nrows * nPerRow, dst);
  if (type == 34 || type == 35) return quantizeTernary(type, src, (nrows * nPerRow) / QK_K, dst);
  if (type == 20 || type == 23) return quantizeIq4(type, src, nrows, nPerRow, imatrix, dst);
  if (type == 16 || type == 17 || type == 18 || type == 19 || type == 21 || type == 22 || type == 29) {
    return quantizeGrid(type, src, nrows, nPerRow, imatrix, dst);
  }
  let blockBytes: i32;
  if (type == 10) blockBytes = 84;
  else if (type == 11) blockBytes = 110;
  else if (type == 12) blockBytes = 144;
  else if (type == 13) blockBytes = 176;
  else if (type == 14) blockBytes = 210;
  else return -1;
  const nbRow = nPerRow / QK_K;
  let y = dst;
  for (let r = 0; r < nrows; r++) {
    for (let i = 0; i < nbRow; i++) {
      const x = src + ((<usize>r * <usize>nPerRow + <usize>i * <usize>QK_K) << 2);
      const qw = imatrix != 0 ? imatrix + (<usize>i * <usize>QK_K << 2) : 0;
      if (type == 10) q2kBlock(x, qw, y);
      else if (type == 11) q3kBlock(x, qw, y);
      else if (type == 12) q4kBlock(x, qw, y);
      else if (type == 13) q5kBlock(x, qw, y);
      else q6kBlock(x, qw, y);
      y += <usize>blockBytes;
    }
  }
  return 0;
}

/** ggml_fp32_to_fp16_row (F16 target): ggml_compute_fp32_to_fp16 lane-wise, 8 values per step. */
export function toF16(src: usize, n: i32, dst: usize): void {
  const scaleToInf = f32x4.splat(reinterpret<f32>(<u32>0x77800000));
  const scaleToZero = f32x4.splat(reinterpret<f32>(<u32>0x08800000));
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = fp16x4(v128.load(src + (<usize>i << 2)), scaleToInf, scaleToZero);
    const b = fp16x4(v128.load(src + (<usize>i << 2) + 16), scaleToInf, scaleToZero);
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>fp32ToFp16(ldf(src, i)));
}

@inline function fp16x4(f: v128, scaleToInf: v128, scaleToZero: v128): v128 {
  let base = f32x4.mul(f32x4.mul(f32x4.abs(f), scaleToInf), scaleToZero);
  const shl1w = i32x4.add(f, f);
  const sign = v128.and(f, i32x4.splat(0x80000000));
  const bias = i32x4.max_u(v128.and(shl1w, i32x4.splat(0xff000000)), i32x4.splat(0x71000000));
  base = f32x4.add(i32x4.add(i32x4.shr_u(bias, 1), i32x4.splat(0x07800000)), base);
  const nonsign = i32x4.add(v128.and(i32x4.shr_u(base, 13), i32x4.splat(0x00007c00)), v128.and(base, i32x4.splat(0x00000fff)));
  const nan = i32x4.gt_u(shl1w, i32x4.splat(0xff000000));
  return v128.or(i32x4.shr_u(sign, 16), v128.bitselect(i32x4.splat(0x7e00), nonsign, nan));
}

/** ggml_fp32_to_bf16_row_ref (BF16 target), 8 values per step. */
export function toBF16(src: usize, n: i32, dst: usize): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = bf16x4(v128.load(src + (<usize>i << 2)));
    const b = bf16x4(v128.load(src + (<usize>i << 2) + 16));
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(a, b));
  }
  for (; i < n; i++) {
    const u = load<u32>(src + (<usize>i << 2));
    const h: u32 = (u & 0x7fffffff) > 0x7f800000 ? (u >> 16) | 64 : (u + (0x7fff + ((u >> 16) & 1))) >> 16;
    store<u16>(dst + (<usize>i << 1), <u16>h);
  }
}

@inline function bf16x4(u: v128): v128 {
  const nan = i32x4.gt_u(v128.and(u, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const hi = i32x4.shr_u(u, 16);
  const rounded = i32x4.shr_u(i32x4.add(u, i32x4.add(i32x4.splat(0x7fff), v128.and(hi, i32x4.splat(1)))), 16);
  return v128.bitselect(v128.or(hi, i32x4.splat(64)), rounded, nan);
}

// ---------------------------------------------------------------- dequantization (to_float), SIMD
//
// dequantize_row_* lane-wise: each output is the same f32 expression as in C (e.g. dl·q − ml), so the floats are
// bit-identical. Levels are widened from bytes to i32 lanes and converted exactly.

/**
 * Stores 16 levels (bytes, unsigned or signed per `signed`) as 16 floats: (q − sub)·d, then + m (mode 1) or − m
 * (mode 2) after the rounded product. C writes x·d (+ m) for the legacy types and d·q (− m) for the K-quants;
 * f32 multiplication commutes exactly.
 */
@inline function emit16(q: v128, signed: bool, sub: i32, d: v128, m: v128, mode: i32, y: usize): void {
  const w0 = signed ? i16x8.extend_low_i8x16_s(q) : i16x8.extend_low_i8x16_u(q);
  const w1 = signed ? i16x8.extend_high_i8x16_s(q) : i16x8.extend_high_i8x16_u(q);
  const s = i32x4.splat(sub);
  let p0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(w0), s)), d);
  let p1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(w0), s)), d);
  let p2 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(w1), s)), d);
  let p3 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(w1), s)), d);
  if (mode == 1) {
    p0 = f32x4.add(p0, m);
    p1 = f32x4.add(p1, m);
    p2 = f32x4.add(p2, m);
    p3 = f32x4.add(p3, m);
  } else if (mode == 2) {
    p0 = f32x4.sub(p0, m);
    p1 = f32x4.sub(p1, m);
    p2 = f32x4.sub(p2, m);
    p3 = f32x4.sub(p3, m);
  }
  v128.store(y, p0);
  v128.store(y + 16, p1);
  v128.store(y + 32, p2);
  v128.store(y + 48, p3);
}

/** The 16 high bits (bit 4 of each level) of a Q5 block half: bit j of `bits16` → 0x10 in byte j. */
@inline function qhBytes(bits16: u32): v128 {
  const rep = i8x16.swizzle(i32x4.splat(bits16), i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const sel = v128.and(rep, i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128));
  return v128.and(v128.not(i8x16.eq(sel, i8x16.splat(0))), i8x16.splat(0x10));
}

/** ggml_compute_fp16_to_fp32 on four halves (in the low 16 bits of each lane), with integer ops only. */
@inline function f16x4ToF32(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const expo = v128.and(h, i32x4.splat(0x7c00));
  const mant = v128.and(h, i32x4.splat(0x03ff));
  const normal = i32x4.add(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), i32x4.splat(112 << 23));
  // inf / NaN: ggml's multiply quiets a signalling NaN (sets bit 22) and keeps the payload
  const quiet = v128.and(v128.not(i32x4.eq(mant, i32x4.splat(0))), i32x4.splat(0x00400000));
  const special = v128.or(v128.or(i32x4.splat(0x7f800000), i32x4.shl(mant, 13)), quiet);
  // zero / subnormal: mant · 2^-24, exact in float32
  const small = f32x4.mul(f32x4.convert_i32x4_s(mant), f32x4.splat(reinterpret<f32>(<u32>0x33800000)));
  const isSpecial = i32x4.eq(expo, i32x4.splat(0x7c00));
  const isSmall = i32x4.eq(expo, i32x4.splat(0));
  return v128.or(sign, v128.bitselect(small, v128.bitselect(special, normal, isSpecial), isSmall));
}

/** F16 / BF16 to_float: n values from src (u16) to dst (f32). */
function fromHalf(bf16: bool, src: usize, n: i32, dst: usize): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    const lo = i32x4.extend_low_i16x8_u(h);
    const hi = i32x4.extend_high_i16x8_u(h);
    v128.store(dst + (<usize>i << 2), bf16 ? i32x4.shl(lo, 16) : f16x4ToF32(lo));
    v128.store(dst + (<usize>i << 2) + 16, bf16 ? i32x4.shl(hi, 16) : f16x4ToF32(hi));
  }
  for (; i < n; i++) {
    const h = <u32>load<u16>(src + (<usize>i << 1));
    store<u32>(dst + (<usize>i << 2), bf16 ? h << 16 : i32x4.extract_lane(f16x4ToF32(i32x4.splat(h)), 0));
  }
}

/** == to_float for F16, BF16 and the block types: nb blocks from src into dst floats. Returns −1 for other types. */
export function dequantize(type: i32, src: usize, nb: i32, dst: usize): i32 {
  if (type == 1 || type == 30) {
    fromHalf(type == 30, src, nb, dst);
    return 0;
  }
  if (type == 20 || type == 23 || type == 34 || type == 35 || type == 39 || type == 40) return dequantizeLowBit(type, src, nb, dst);
  if (type == 16 || type == 17 || type == 18 || type == 19 || type == 21 || type == 22 || type == 29) return dequantizeGrid(type, src, nb, dst);
  const zero = f32x4.splat(0);
  const nib = i8x16.splat(0x0f);
  if (type == 2 || type == 3 || type == 6 || type == 7 || type == 8) {
    const bytes: usize = type == 2 ? 18 : type == 3 ? 20 : type == 6 ? 22 : type == 7 ? 24 : 34;
    for (let i = 0; i < nb; i++, src += bytes, dst += 128) {
      const d = f32x4.splat(ld16f(src));
      if (type == 8) {
        emit16(v128.load(src + 2), true, 0, d, zero, 0, dst);
        emit16(v128.load(src + 18), true, 0, d, zero, 0, dst + 64);
        continue;
      }
      const asym = type == 3 || type == 7;
      const m = asym ? f32x4.splat(ld16f(src + 2)) : zero;
      const qs = v128.load(src + (type == 2 ? 2 : type == 3 ? 4 : type == 6 ? 6 : 8));
      let lo = v128.and(qs, nib);
      let hi = i8x16.shr_u(qs, 4);
      if (type == 6 || type == 7) {
        const qh = load<u32>(src + (type == 6 ? 2 : 4));
        lo = v128.or(lo, qhBytes(qh & 0xffff));
        hi = v128.or(hi, qhBytes(qh >> 16));
      }
      const sub = type == 2 ? 8 : type == 6 ? 16 : 0;
      emit16(lo, false, sub, d, m, asym ? 1 : 0, dst);
      emit16(hi, false, sub, d, m, asym ? 1 : 0, dst + 64);
    }
    return 0;
  }
  const three = i8x16.splat(3);
  if (type == 10) {
    for (let i = 0; i < nb; i++, src += 84) {
      const d = ld16f(src + 80);
      const mn = ld16f(src + 82);
      let is = 0;
      for (let n = 0; n < QK_K; n += 128) {
        const q = src + 16 + <usize>(n / 4);
        for (let shift = 0; shift < 8; shift += 2) {
          for (let h = 0; h < 32; h += 16) {
            const sc = ldb(src, is++);
            const dl = f32x4.splat(d * <f32>(sc & 0xf));
            const ml = f32x4.splat(mn * <f32>(sc >> 4));
            const lv = v128.and(i8x16.shr_u(v128.load(q + <usize>h), shift), three);
            emit16(lv, false, 0, dl, ml, 2, dst);
            dst += 64;
          }
        }
      }
    }
    return 0;
  }
  if (type == 11) {
    const four = i8x16.splat(4);
    for (let i = 0; i < nb; i++, src += 110) {
      const dAll = ld16f(src + 108);
      let is = 0;
      let mbit = 1;
      for (let n = 0; n < QK_K; n += 128) {
        const q = src + 32 + <usize>(n / 4);
        for (let shift = 0; shift < 8; shift += 2, mbit <<= 1) {
          const mbitI: i32 = mbit;
          const mv = i8x16.splat(<i8>mbitI);
          for (let h = 0; h < 32; h += 16) {
            const dl = f32x4.splat(dAll * <f32>(scaleQ3K(src + 96, is++) - 32));
            const low = v128.and(i8x16.shr_u(v128.load(q + <usize>h), shift), three);
            const hset = v128.not(i8x16.eq(v128.and(v128.load(src + <usize>h), mv), i8x16.splat(0)));
            const lv = i8x16.sub(low, v128.andnot(four, hset));
            emit16(lv, true, 0, dl, zero, 0, dst);
            dst += 64;
          }
        }
      }
    }
    return 0;
  }
  if (type == 12 || type == 13) {
    const five = type == 13;
    const bytes: usize = five ? 176 : 144;
    const sixteen = i8x16.splat(16);
    for (let i = 0; i < nb; i++, src += bytes) {
      const d = ld16f(src);
      const mn = ld16f(src + 2);
      let u1 = 1;
      for (let j = 0, is = 0; j < QK_K; j += 64, is += 2, u1 <<= 2) {
        const q = src + (five ? 48 : 16) + <usize>(j / 2);
        const d1 = f32x4.splat(d * <f32>scaleK4(src + 4, is));
        const m1 = f32x4.splat(mn * <f32>minK4(src + 4, is));
        const d2 = f32x4.splat(d * <f32>scaleK4(src + 4, is + 1));
        const m2 = f32x4.splat(mn * <f32>minK4(src + 4, is + 1));
        const u2: i32 = u1 << 1;
        const u1v = i8x16.splat(<i8>u1);
        const u2v = i8x16.splat(<i8>u2);
        for (let half = 0; half < 2; half++) {
          const dv = half == 0 ? d1 : d2;
          const mv = half == 0 ? m1 : m2;
          for (let h = 0; h < 32; h += 16) {
            const raw = v128.load(q + <usize>h);
            let lv = half == 0 ? v128.and(raw, nib) : i8x16.shr_u(raw, 4);
            if (five) {
              const qh = v128.load(src + 16 + <usize>h);
              const set = v128.not(i8x16.eq(v128.and(qh, half == 0 ? u1v : u2v), i8x16.splat(0)));
              lv = i8x16.add(lv, v128.and(set, sixteen));
            }
            emit16(lv, false, 0, dv, mv, 2, dst);
            dst += 64;
          }
        }
      }
    }
    return 0;
  }
  if (type == 14) {
    for (let i = 0; i < nb; i++, src += 210) {
      const d = ld16f(src + 208);
      for (let n = 0; n < 2; n++) {
        const ql = src + (<usize>n << 6);
        const qh = src + 128 + (<usize>n << 5);
        const sc = src + 192 + (<usize>n << 3);
        const y = dst + (<usize>n << 9);
        for (let h = 0; h < 32; h += 16) {
          const a = v128.load(ql + <usize>h);
          const b = v128.load(ql + 32 + <usize>h);
          const hb = v128.load(qh + <usize>h);
          const is = h >> 4;
          const q1 = v128.or(v128.and(a, nib), i8x16.shl(v128.and(hb, three), 4));
          const q2 = v128.or(v128.and(b, nib), i8x16.shl(v128.and(i8x16.shr_u(hb, 2), three), 4));
          const q3 = v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(hb, 4), three), 4));
          const q4 = v128.or(i8x16.shr_u(b, 4), i8x16.shl(i8x16.shr_u(hb, 6), 4));
          emit16(q1, false, 32, f32x4.splat(d * <f32>load<i8>(sc + <usize>is)), zero, 0, y + (<usize>h << 2));
          emit16(q2, false, 32, f32x4.splat(d * <f32>load<i8>(sc + <usize>(is + 2))), zero, 0, y + 128 + (<usize>h << 2));
          emit16(q3, false, 32, f32x4.splat(d * <f32>load<i8>(sc + <usize>(is + 4))), zero, 0, y + 256 + (<usize>h << 2));
          emit16(q4, false, 32, f32x4.splat(d * <f32>load<i8>(sc + <usize>(is + 6))), zero, 0, y + 384 + (<usize>h << 2));
        }
      }
      dst += 1024;
    }
    return 0;
  }
  return -1;
}

// ---------------------------------------------------------------- low-bit dequantizers (IQ4_NL, IQ4_XS, TQ1_0, TQ2_0)

/** kvalues_iq4nl as a swizzle table: nibble → signed level. */
@inline function iq4Levels(nibbles: v128): v128 {
  return i8x16.swizzle(i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113), nibbles);
}

/** Trit n of 16 packed bytes as signed bytes: ((uint8)(q·3^n) · 3) >> 8, minus 1 (dequantize_row_tq1_0). */
@inline function trits16(q: v128, pow3: i32): v128 {
  const p = i16x8.splat(<i16>pow3);
  const ff = i16x8.splat(0xff);
  const three = i16x8.splat(3);
  const one = i16x8.splat(1);
  const lo = i16x8.sub(i16x8.shr_u(i16x8.mul(v128.and(i16x8.mul(i16x8.extend_low_i8x16_u(q), p), ff), three), 8), one);
  const hi = i16x8.sub(i16x8.shr_u(i16x8.mul(v128.and(i16x8.mul(i16x8.extend_high_i8x16_u(q), p), ff), three), 8), one);
  return i8x16.narrow_i16x8_s(lo, hi);
}

/** ggml_ue4m3_to_fp32: unsigned E4M3 (bias 7) halved, exact; 0 and 0x7F read as 0 (bit 7 is ignored). */
@inline function ue4m3(x: i32): f32 {
  if (x == 0 || x == 0x7f) return 0;
  const exp = (x >> 3) & 0xf;
  const man = x & 7;
  return exp == 0 ? <f32>man * reinterpret<f32>(<u32>0x3a800000) : reinterpret<f32>(<u32>((exp + 119) << 23) | (<u32>man << 20));
}

/** to_float of the low-bit types with byte-level layouts; −1 for others. */
function dequantizeLowBit(type: i32, src: usize, nb: i32, dst: usize): i32 {
  const zero = f32x4.splat(0);
  const nib = i8x16.splat(0x0f);
  if (type == 20) {
    // IQ4_NL: d·kvalues[lo] for elements 0…15, d·kvalues[hi] for 16…31
    for (let i = 0; i < nb; i++, src += 18, dst += 128) {
      const d = f32x4.splat(ld16f(src));
      const qs = v128.load(src + 2);
      emit16(iq4Levels(v128.and(qs, nib)), true, 0, d, zero, 0, dst);
      emit16(iq4Levels(i8x16.shr_u(qs, 4)), true, 0, d, zero, 0, dst + 64);
    }
    return 0;
  }
  if (type == 23) {
    // IQ4_XS: per 32-block dl = d·(ls − 32), then dl·kvalues[q]
    for (let i = 0; i < nb; i++, src += 136) {
      const d = ld16f(src);
      const scalesH = <i32>load<u16>(src + 2);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const ls = ((ldb(src + 4, ib >> 1) >> (4 * (ib & 1))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
        const dl = f32x4.splat(d * <f32>(ls - 32));
        const qs = v128.load(src + 8 + (<usize>ib << 4));
        emit16(iq4Levels(v128.and(qs, nib)), true, 0, dl, zero, 0, dst);
        emit16(iq4Levels(i8x16.shr_u(qs, 4)), true, 0, dl, zero, 0, dst + 64);
      }
    }
    return 0;
  }
  if (type == 35) {
    // TQ2_0: ((qs[j+m] >> 2l) & 3) − 1, times d, for j ∈ {0, 32}, l < 4, m < 32
    const three = i8x16.splat(3);
    for (let i = 0; i < nb; i++, src += 66) {
      const d = f32x4.splat(ld16f(src + 64));
      for (let j = 0; j < 64; j += 32) {
        const a = v128.load(src + <usize>j);
        const b = v128.load(src + <usize>j + 16);
        for (let l = 0; l < 8; l += 2, dst += 128) {
          emit16(v128.and(i8x16.shr_u(a, l), three), false, 1, d, zero, 0, dst);
          emit16(v128.and(i8x16.shr_u(b, l), three), false, 1, d, zero, 0, dst + 64);
        }
      }
    }
    return 0;
  }
  if (type == 39 || type == 40) {
    // MXFP4 (17 B: E8M0 e | qs[16]) and NVFP4 (36 B: four UE4M3 scales | qs[32], one scale per 16): kvalues_fp4[q]·d
    const fp4 = i8x16(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    if (type == 39) {
      for (let i = 0; i < nb; i++, src += 17, dst += 128) {
        const e = ldb(src, 0);
        const d = f32x4.splat(reinterpret<f32>(e < 2 ? <u32>0x00200000 << e : <u32>(e - 1) << 23));
        const qs = v128.load(src + 1);
        emit16(i8x16.swizzle(fp4, v128.and(qs, nib)), true, 0, d, zero, 0, dst);
        emit16(i8x16.swizzle(fp4, i8x16.shr_u(qs, 4)), true, 0, d, zero, 0, dst + 64);
      }
      return 0;
    }
    for (let i = 0; i < nb; i++, src += 36) {
      for (let s = 0; s < 4; s += 2, dst += 128) {
        // two 16-blocks: bytes 8s…8s+15 hold block s (lo, hi nibbles of its first 8 bytes) and block s + 1
        const qs = v128.load(src + 4 + (<usize>s << 3));
        const lo = v128.and(qs, nib);
        const hi = i8x16.shr_u(qs, 4);
        const d0 = f32x4.splat(ue4m3(ldb(src, s)));
        const d1 = f32x4.splat(ue4m3(ldb(src, s + 1)));
        // block s: lo of bytes 0…7 then hi of bytes 0…7; block s + 1 likewise from bytes 8…15
        const a = i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        const b = i8x16.shuffle(lo, hi, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
        emit16(i8x16.swizzle(fp4, a), true, 0, d0, zero, 0, dst);
        emit16(i8x16.swizzle(fp4, b), true, 0, d1, zero, 0, dst + 64);
      }
    }
    return 0;
  }
  if (type == 34) {
    // TQ1_0: qs[0…32) 5 trits each, qs[32…48) 5 trits each, qh[4] 4 trits each; d at byte 52
    for (let i = 0; i < nb; i++, src += 54) {
      const dS = ld16f(src + 52);
      const d = f32x4.splat(dS);
      const a = v128.load(src);
      const b = v128.load(src + 16);
      const c = v128.load(src + 32);
      let pow3 = 1;
      for (let n = 0; n < 5; n++, pow3 *= 3, dst += 128) {
        emit16(trits16(a, pow3), true, 0, d, zero, 0, dst);
        emit16(trits16(b, pow3), true, 0, d, zero, 0, dst + 64);
      }
      pow3 = 1;
      for (let n = 0; n < 5; n++, pow3 *= 3, dst += 64) emit16(trits16(c, pow3), true, 0, d, zero, 0, dst);
      pow3 = 1;
      for (let n = 0; n < 4; n++, pow3 *= 3) {
        for (let j = 0; j < 4; j++, dst += 4) {
          const t = ((((ldb(src + 48, j) * pow3) & 0xff) * 3) >> 8) - 1;
          store<f32>(dst, <f32>t * dS);
        }
      }
    }
    return 0;
  }
  return -1;
}

// ---------------------------------------------------------------- ternary quantizers (quantize_row_tq1_0_ref / _tq2_0_ref)

/**
 * (int)lroundf(v) on x86-64 glibc, four lanes: half away from zero (nearest-even, moved away from zero where v is
 * exactly halfway); NaN and ±inf give LONG_MIN, whose low 32 bits are 0. Lanes with |v| ≥ 2^31 give 0 too: the
 * ternary products x·(1/amax) are NaN, ±inf or at most about 1, so the i64 wrap for 2^31 ≤ |v| < 2^63 never arises.
 */
@inline function lroundf4(v: v128): v128 {
  const t = f32x4.trunc(v);
  const half = f32x4.eq(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const away = f32x4.add(t, v128.bitselect(f32x4.splat(-1), f32x4.splat(1), f32x4.lt(v, f32x4.splat(0))));
  const r = v128.bitselect(away, f32x4.nearest(v), half);
  const ok = f32x4.lt(f32x4.abs(v), f32x4.splat(2147483648.0));
  return v128.and(i32x4.trunc_sat_f32x4_s(r), ok);
}

/** max |x| over 256 values as MAX(amax, fabsf(v)) finds it; writes it as fp16 at y and returns 1/amax (0 for 0). */
function ternaryScale(x: usize, y: usize): f32 {
  // without NaNs, MAX(amax, fabsf(v)) is the plain maximum (f32x4.max); a NaN makes it order-dependent: redo in C's order
  let m4 = f32x4.splat(0);
  for (let j = 0; j < QK_K; j += 4) m4 = f32x4.max(m4, f32x4.abs(v128.load(x + (<usize>j << 2))));
  let amax = Mathf.max(Mathf.max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), Mathf.max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  if (amax != amax) {
    amax = 0;
    for (let j = 0; j < QK_K; j++) {
      const a = Mathf.abs(ldf(x, j));
      amax = amax > a ? amax : a;
    }
  }
  st16(y, fp32ToFp16(amax));
  return amax != 0 ? <f32>1.0 / amax : 0;
}

/**
 * Four bytes of trits, base 3, most significant first: lane k packs x[k + n·stride] (n < count); with count 4 a
 * fifth zero trit follows. Then the ceiling scaling by 256/243. The uint8 wrap of q is
 * kept per step, and (q·256 + 242) / 243 ≤ 65522 / 243 is exact as a float32 quotient truncated (every non-integer
 * quotient is at least 1/243 below the next integer).
 */
@inline function packTrits4(x: usize, stride: i32, count: i32, idv: v128): v128 {
  const ff = i32x4.splat(0xff);
  let q = i32x4.splat(0);
  for (let n = 0; n < count; n++) {
    const xi = i32x4.add(lroundf4(f32x4.mul(v128.load(x + (<usize>(n * stride) << 2)), idv)), i32x4.splat(1));
    q = v128.and(i32x4.add(i32x4.mul(q, i32x4.splat(3)), xi), ff);
  }
  if (count == 4) q = v128.and(i32x4.mul(q, i32x4.splat(3)), ff);
  const num = f32x4.convert_i32x4_s(i32x4.add(i32x4.shl(q, 8), i32x4.splat(242)));
  return v128.and(i32x4.trunc_sat_f32x4_s(f32x4.div(num, f32x4.splat(243))), ff);
}

@inline function store4Bytes(y: usize, v: v128): void {
  store<u32>(y, i32x4.extract_lane(i8x16.shuffle(v, v, 0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0));
}

function tq1Block(x: usize, y: usize): void {
  const idv = f32x4.splat(ternaryScale(x, y + 52));
  for (let m = 0; m < 32; m += 4) store4Bytes(y + <usize>m, packTrits4(x + (<usize>m << 2), 32, 5, idv));
  for (let m = 0; m < 16; m += 4) store4Bytes(y + 32 + <usize>m, packTrits4(x + (<usize>(160 + m) << 2), 16, 5, idv));
  store4Bytes(y + 48, packTrits4(x + (<usize>240 << 2), 4, 4, idv));
}

function tq2Block(x: usize, y: usize): void {
  const id = ternaryScale(x, y + 64);
  const idv = f32x4.splat(id);
  for (let j = 0; j < 64; j += 32) {
    for (let m = 0; m < 32; m += 4) {
      let q = i32x4.splat(0);
      for (let n = 0; n < 4; n++) {
        const lv = lroundf4(f32x4.mul(v128.load(x + (<usize>(4 * j + m + n * 32) << 2)), idv));
        q = v128.or(q, i32x4.shl(v128.and(i32x4.add(lv, i32x4.splat(1)), i32x4.splat(3)), 2 * n));
      }
      stb(y, j + m, i32x4.extract_lane(q, 0));
      stb(y, j + m + 1, i32x4.extract_lane(q, 1));
      stb(y, j + m + 2, i32x4.extract_lane(q, 2));
      stb(y, j + m + 3, i32x4.extract_lane(q, 3));
    }
  }
}

/** TQ1_0 / TQ2_0 over nb super-blocks; −1 for other types. */
function quantizeTernary(type: i32, x: usize, nb: i32, y: usize): i32 {
  if (type != 34 && type != 35) return -1;
  for (let i = 0; i < nb; i++, x += 1024) {
    if (type == 34) {
      tq1Block(x, y);
      y += 54;
    } else {
      tq2Block(x, y);
      y += 66;
    }
  }
  return 0;
}

// ---------------------------------------------------------------- fp4 quantizers (quantize_row_mxfp4_ref / _nvfp4_ref)

const FP4MAG: usize = memory.data(8 * 16, 16); // m·d splatted, for the magnitudes m = 0, 1, 2, 3, 4, 6, 8, 12 of kvalues_fp4

/**
 * max |x| over n values (a multiple of 4) as `if (amax < fabsf(v)) amax = fabsf(v)` finds it: a NaN never wins, and
 * without NaNs the maximum does not depend on the order, so four lanes keep running maxima.
 */
function fp4AbsMax(x: usize, n: i32): f32 {
  let m = f32x4.splat(0);
  for (let j = 0; j < n; j += 4) {
    const a = f32x4.abs(v128.load(x + (<usize>j << 2)));
    m = v128.bitselect(a, m, f32x4.lt(m, a));
  }
  let amax = f32x4.extract_lane(m, 0);
  const a1 = f32x4.extract_lane(m, 1);
  const a2 = f32x4.extract_lane(m, 2);
  const a3 = f32x4.extract_lane(m, 3);
  if (amax < a1) amax = a1;
  if (amax < a2) amax = a2;
  if (amax < a3) amax = a3;
  return amax;
}

/**
 * floorf(log2f(amax)) for amax > 0. For a finite normal amax whose mantissa is not within 2^-15 of the next power
 * of two, log2 lies at least 2.2e-5 below the next integer, more than one float32 ulp at |log2| ≤ 128, so the
 * answer is the unbiased exponent; otherwise (and for subnormals and inf) log2 is evaluated and rounded to float32
 * as log2f does.
 */
@inline function floorLog2f(amax: f32): f32 {
  const bits = reinterpret<u32>(amax);
  const exp = <i32>(bits >> 23);
  if (exp != 0 && exp != 255 && (bits & 0x7fffff) < 0x7fff00) return <f32>(exp - 127);
  return Mathf.floor(<f32>Math.log2(<f64>amax));
}

/**
 * best_index_mxfp4 on four lanes: the first index of least |kvalues_fp4[i]·d − x| (C's scan with strict <), for
 * d ≥ 0. kvalues_fp4 is 0, +m (indices 1…7), 0, −m (9…15) for the magnitudes m; negation is exact, so the error of
 * −m·d at x equals that of +m·d at −x. For x > 0 every −m·d errs by fl(m·d + x) ≥ x, the error of index 0, which
 * comes first; likewise +m·d for x < 0. So the scan over the 8 magnitudes at |x| finds k, and the index is k, or
 * k + 8 for x < 0 and k > 0; NaN and ±inf keep index 0 as in C.
 */
@inline function bestFp4x4(xv: v128): v128 {
  const ax = f32x4.abs(xv);
  let bestErr = ax;
  let best = i32x4.splat(0);
  for (let k = 1; k < 8; k++) {
    const err = f32x4.abs(f32x4.sub(v128.load(FP4MAG + (<usize>k << 4)), ax));
    const lt = f32x4.lt(err, bestErr);
    best = v128.bitselect(i32x4.splat(k), best, lt);
    bestErr = v128.bitselect(err, bestErr, lt);
  }
  const neg = v128.and(f32x4.lt(xv, f32x4.splat(0)), v128.not(i32x4.eq(best, i32x4.splat(0))));
  return i32x4.add(best, v128.and(neg, i32x4.splat(8)));
}

/** `half` bytes of nibble pairs: lo = element j, hi = element j + half, each the nearest fp4 level at scale d ≥ 0. */
function packFp4(x: usize, half: i32, d: f32, y: usize): void {
  v128.store(FP4MAG, f32x4.splat(<f32>0 * d));
  v128.store(FP4MAG + 16, f32x4.splat(<f32>1 * d));
  v128.store(FP4MAG + 32, f32x4.splat(<f32>2 * d));
  v128.store(FP4MAG + 48, f32x4.splat(<f32>3 * d));
  v128.store(FP4MAG + 64, f32x4.splat(<f32>4 * d));
  v128.store(FP4MAG + 80, f32x4.splat(<f32>6 * d));
  v128.store(FP4MAG + 96, f32x4.splat(<f32>8 * d));
  v128.store(FP4MAG + 112, f32x4.splat(<f32>12 * d));
  for (let j = 0; j < half; j += 4) {
    const lo = bestFp4x4(v128.load(x + (<usize>j << 2)));
    const hi = bestFp4x4(v128.load(x + (<usize>(j + half) << 2)));
    store4Bytes(y + <usize>j, v128.or(lo, i32x4.shl(hi, 4)));
  }
}

/** ggml_fp32_to_ue4m3 of a float32 value: positive values only (else 0), clamped to 448, mantissa rounded by its next bit. */
function fp32ToUe4m3(v: f32): i32 {
  if (!(v > 0)) return 0;
  const x: f32 = v > 448 ? 448 : v;
  const bits = reinterpret<u32>(x);
  let exp = <i32>((bits >> 23) & 0xff) - 127 + 7;
  if (exp <= 0) {
    const man = <i32>(x * <f32>512 + <f32>0.5);
    return man > 7 ? 7 : man < 1 ? 0 : man;
  }
  if (exp >= 15) return 0x7e;
  let man = <i32>(((bits >> 20) & 7) + ((bits >> 19) & 1));
  if (man > 7) {
    man = 0;
    exp++;
    if (exp >= 15) return 0x7e;
  }
  return (exp << 3) | man;
}

/** MXFP4 (type 39, 32 per block) / NVFP4 (type 40, 64 per block) over n values; −1 for other types. */
function quantizeFp4(type: i32, x: usize, n: i32, y: usize): i32 {
  if (type == 39) {
    for (let i = 0; i < n; i += 32, x += 128, y += 17) {
      const amax = fp4AbsMax(x, 32);
      // (uint8_t)(floorf(log2f(amax)) - 2 + 127), through x86's cvttss2si: amax = inf gives 0x80000000, low byte 0
      const ef = floorLog2f(amax) - <f32>2 + <f32>127;
      const e = amax > 0 && ef < <f32>2147483648.0 ? <i32>ef & 0xff : 0;
      stb(y, 0, e);
      packFp4(x, 16, reinterpret<f32>(e < 2 ? <u32>0x00200000 << e : <u32>(e - 1) << 23), y + 1);
    }
    return 0;
  }
  if (type == 40) {
    for (let i = 0; i < n; i += 64, y += 36) {
      for (let s = 0; s < 4; s++, x += 64) {
        const ue = fp32ToUe4m3(fp4AbsMax(x, 16) / <f32>6);
        stb(y, s, ue);
        packFp4(x, 8, ue4m3(ue), y + 4 + (<usize>s << 3));
      }
    }
    return 0;
  }
  return -1;
}

// ---------------------------------------------------------------- grid i-quant dequantizers (IQ1_*, IQ2_*, IQ3_*)

// The grids of ggml-common.h (bytes, as iquant-tables.generated.ts holds them) and ksigns_iq2xs. They live in one
// zeroed region the host fills once after instantiating (gridTable(k) gives table k's address), so the module and
// the TypeScript reference read the same generated tables.
const GRID_IQ2XXS: usize = 0; // 256 × 8
const GRID_IQ2XS: usize = 2048; // 512 × 8
const GRID_IQ2S: usize = 6144; // 1024 × 8
const GRID_IQ3XXS: usize = 14336; // 256 × 4
const GRID_IQ3S: usize = 15360; // 512 × 4
const GRID_IQ1S: usize = 17408; // 2048 × 8 (int8 −1, 0, 1)
const GRID_KSIGNS: usize = 33792; // 128
const GRIDS: usize = memory.data(33920, 16);

/** Address of table k: 0 iq2xxs, 1 iq2xs, 2 iq2s, 3 iq3xxs, 4 iq3s, 5 iq1s grid, 6 ksigns_iq2xs; 0 for others. */
export function gridTable(k: i32): usize {
  if (k == 0) return GRIDS + GRID_IQ2XXS;
  if (k == 1) return GRIDS + GRID_IQ2XS;
  if (k == 2) return GRIDS + GRID_IQ2S;
  if (k == 3) return GRIDS + GRID_IQ3XXS;
  if (k == 4) return GRIDS + GRID_IQ3S;
  if (k == 5) return GRIDS + GRID_IQ1S;
  if (k == 6) return GRIDS + GRID_KSIGNS;
  return 0;
}

/** Two 8-byte grid points (indices g0, g1 of the table at `grid`) as 16 bytes. */
@inline function grid8x2(grid: usize, g0: i32, g1: i32): v128 {
  return v128.load64_lane(grid + (<usize>g1 << 3), v128.load64_zero(grid + (<usize>g0 << 3)), 1);
}

/** Four 4-byte grid points as 16 bytes. */
@inline function grid4x4(grid: usize, g0: i32, g1: i32, g2: i32, g3: i32): v128 {
  let v = v128.load32_zero(grid + (<usize>g0 << 2));
  v = v128.load32_lane(grid + (<usize>g1 << 2), v, 1);
  v = v128.load32_lane(grid + (<usize>g2 << 2), v, 2);
  return v128.load32_lane(grid + (<usize>g3 << 2), v, 3);
}

/** 16 grid magnitudes with sign bits s0 (bytes 0…7) and s1 (bytes 8…15) applied: bit j set → byte j negated. */
@inline function signed16(g: v128, s0: i32, s1: i32): v128 {
  const rep = i8x16.swizzle(i32x4.splat(s0 | (s1 << 8)), i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const bits = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const neg = i8x16.eq(v128.and(rep, bits), bits);
  return i8x16.sub(v128.xor(g, neg), neg);
}

@inline function ksign(s: i32): i32 {
  return <i32>load<u8>(GRIDS + GRID_KSIGNS + <usize>s);
}

/** d·(0.5 + s)·scale in float32 (the IQ2 sub-block scales use 0.25, IQ3_XXS 0.5). */
@inline function halfStepScale(d: f32, s: i32, scale: f32): v128 {
  return f32x4.splat(d * (<f32>0.5 + <f32>s) * scale);
}

/** y[j] = dl·(grid[j] + delta) for 16 int8 grid values; delta0 for bytes 0…7, delta1 for 8…15 (dequantize_row_iq1_*). */
@inline function emitIq1(q: v128, dl: v128, delta0: f32, delta1: f32, y: usize): void {
  const w0 = i16x8.extend_low_i8x16_s(q);
  const w1 = i16x8.extend_high_i8x16_s(q);
  const a = f32x4.splat(delta0);
  const b = f32x4.splat(delta1);
  v128.store(y, f32x4.mul(dl, f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(w0)), a)));
  v128.store(y + 16, f32x4.mul(dl, f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(w0)), a)));
  v128.store(y + 32, f32x4.mul(dl, f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(w1)), b)));
  v128.store(y + 48, f32x4.mul(dl, f32x4.add(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(w1)), b)));
}

const IQ1_DELTA: f32 = 0.125;

/** to_float of the grid i-quants: y = (sub-block scale)·(±grid point); IQ1_*: dl·(grid + ±delta). −1 for other types. */
function dequantizeGrid(type: i32, src: usize, nb: i32, dst: usize): i32 {
  const zero = f32x4.splat(0);
  if (type == 16) {
    // IQ2_XXS (66 B): d | per 32: four 8-bit indices, u32 (4 × 7 sign bits, scale << 28)
    const grid = GRIDS + GRID_IQ2XXS;
    for (let i = 0; i < nb; i++, src += 66) {
      const d = ld16f(src);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const q = src + 2 + (<usize>ib << 3);
        const aux = load<u32>(q + 4);
        const db = halfStepScale(d, <i32>(aux >> 28), 0.25);
        const g01 = grid8x2(grid, ldb(q, 0), ldb(q, 1));
        const g23 = grid8x2(grid, ldb(q, 2), ldb(q, 3));
        emit16(signed16(g01, ksign(aux & 127), ksign((aux >> 7) & 127)), true, 0, db, zero, 0, dst);
        emit16(signed16(g23, ksign((aux >> 14) & 127), ksign((aux >> 21) & 127)), true, 0, db, zero, 0, dst + 64);
      }
    }
    return 0;
  }
  if (type == 17) {
    // IQ2_XS (74 B): d | qs[32] u16 (9-bit index | 7 sign bits << 9) | scales[8] (4 bits per 16)
    const grid = GRIDS + GRID_IQ2XS;
    for (let i = 0; i < nb; i++, src += 74) {
      const d = ld16f(src);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const sc = ldb(src + 66, ib);
        const q = src + 2 + (<usize>ib << 3);
        for (let h = 0; h < 2; h++) {
          const qa = <i32>load<u16>(q + (<usize>h << 2));
          const qb = <i32>load<u16>(q + (<usize>h << 2) + 2);
          const db = halfStepScale(d, h == 0 ? sc & 0xf : sc >> 4, 0.25);
          const g = grid8x2(grid, qa & 511, qb & 511);
          emit16(signed16(g, ksign(qa >> 9), ksign(qb >> 9)), true, 0, db, zero, 0, dst + (<usize>h << 6));
        }
      }
    }
    return 0;
  }
  if (type == 22) {
    // IQ2_S (82 B): d | qs[32] index low bits | signs[32] | qh[8] (2 high bits per index) | scales[8]
    const grid = GRIDS + GRID_IQ2S;
    for (let i = 0; i < nb; i++, src += 82) {
      const d = ld16f(src);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const sc = ldb(src + 74, ib);
        const qh = ldb(src + 66, ib);
        const qs = src + 2 + (<usize>ib << 2);
        const sg = src + 34 + (<usize>ib << 2);
        for (let h = 0; h < 2; h++) {
          const l = h << 1;
          const ga = ldb(qs, l) | ((qh << (8 - 2 * l)) & 0x300);
          const gb = ldb(qs, l + 1) | ((qh << (6 - 2 * l)) & 0x300);
          const db = halfStepScale(d, h == 0 ? sc & 0xf : sc >> 4, 0.25);
          emit16(signed16(grid8x2(grid, ga, gb), ldb(sg, l), ldb(sg, l + 1)), true, 0, db, zero, 0, dst + (<usize>h << 6));
        }
      }
    }
    return 0;
  }
  if (type == 18) {
    // IQ3_XXS (98 B): d | qs[64] 8-bit indices of 4-byte points | per 32: u32 (4 × 7 sign bits, scale << 28)
    const grid = GRIDS + GRID_IQ3XXS;
    for (let i = 0; i < nb; i++, src += 98) {
      const d = ld16f(src);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const q = src + 2 + (<usize>ib << 3);
        const aux = load<u32>(src + 66 + (<usize>ib << 2));
        const db = halfStepScale(d, <i32>(aux >> 28), 0.5);
        const g0 = grid4x4(grid, ldb(q, 0), ldb(q, 1), ldb(q, 2), ldb(q, 3));
        const g1 = grid4x4(grid, ldb(q, 4), ldb(q, 5), ldb(q, 6), ldb(q, 7));
        emit16(signed16(g0, ksign(aux & 127), ksign((aux >> 7) & 127)), true, 0, db, zero, 0, dst);
        emit16(signed16(g1, ksign((aux >> 14) & 127), ksign((aux >> 21) & 127)), true, 0, db, zero, 0, dst + 64);
      }
    }
    return 0;
  }
  if (type == 21) {
    // IQ3_S (110 B): d | qs[64] index low bits | qh[8] (bit 8 of each index) | signs[32] | scales[4] (4 bits per 32)
    const grid = GRIDS + GRID_IQ3S;
    for (let i = 0; i < nb; i++, src += 110) {
      const d = ld16f(src);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const sc = ldb(src + 106, ib >> 1);
        const db = f32x4.splat(d * <f32>(((ib & 1) != 0 ? sc >> 4 : sc & 0xf) * 2 + 1));
        const qh = ldb(src + 66, ib);
        const qs = src + 2 + (<usize>ib << 3);
        const sg = src + 74 + (<usize>ib << 2);
        for (let h = 0; h < 2; h++) {
          const l = h << 1;
          const g = grid4x4(
            grid,
            ldb(qs, 2 * l) | ((qh << (8 - 2 * l)) & 256),
            ldb(qs, 2 * l + 1) | ((qh << (7 - 2 * l)) & 256),
            ldb(qs, 2 * l + 2) | ((qh << (6 - 2 * l)) & 256),
            ldb(qs, 2 * l + 3) | ((qh << (5 - 2 * l)) & 256),
          );
          emit16(signed16(g, ldb(sg, l), ldb(sg, l + 1)), true, 0, db, zero, 0, dst + (<usize>h << 6));
        }
      }
    }
    return 0;
  }
  if (type == 19) {
    // IQ1_S (50 B): d | qs[32] index low bits | qh[8] u16 (3 high bits per index, scale bits 12…14, delta sign bit 15)
    const grid = GRIDS + GRID_IQ1S;
    for (let i = 0; i < nb; i++, src += 50) {
      const d = ld16f(src);
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const qh = <i32>load<u16>(src + 34 + (<usize>ib << 1));
        const dl = f32x4.splat(d * <f32>(((qh >> 12) & 7) * 2 + 1));
        const delta = (qh & 0x8000) != 0 ? -IQ1_DELTA : IQ1_DELTA;
        const qs = src + 2 + (<usize>ib << 2);
        const g01 = grid8x2(grid, ldb(qs, 0) | ((qh << 8) & 0x700), ldb(qs, 1) | ((qh << 5) & 0x700));
        const g23 = grid8x2(grid, ldb(qs, 2) | ((qh << 2) & 0x700), ldb(qs, 3) | ((qh >> 1) & 0x700));
        emitIq1(g01, dl, delta, delta, dst);
        emitIq1(g23, dl, delta, delta, dst + 64);
      }
    }
    return 0;
  }
  if (type == 29) {
    // IQ1_M (56 B): qs[32] index low bits | qh[16] (3 high bits and a delta sign per index) | scales u16[4] (3-bit
    // scales, with d's 16 bits in their top nibbles)
    const grid = GRIDS + GRID_IQ1S;
    for (let i = 0; i < nb; i++, src += 56) {
      const s0 = <u32>load<u16>(src + 48);
      const s1 = <u32>load<u16>(src + 50);
      const s2 = <u32>load<u16>(src + 52);
      const s3 = <u32>load<u16>(src + 54);
      const d = fp16ToFp32((s0 >> 12) | ((s1 >> 8) & 0x00f0) | ((s2 >> 4) & 0x0f00) | (s3 & 0xf000));
      for (let ib = 0; ib < 8; ib++, dst += 128) {
        const s = <i32>load<u16>(src + 48 + (<usize>(ib >> 1) << 1));
        const sh = 6 * (ib & 1);
        const qs = src + (<usize>ib << 2);
        for (let h = 0; h < 2; h++) {
          const dl = f32x4.splat(d * <f32>(((s >> (sh + 3 * h)) & 7) * 2 + 1));
          const qh = ldb(src + 32, 2 * ib + h);
          const g = grid8x2(grid, ldb(qs, 2 * h) | ((qh << 8) & 0x700), ldb(qs, 2 * h + 1) | ((qh << 4) & 0x700));
          emitIq1(g, dl, (qh & 0x08) != 0 ? -IQ1_DELTA : IQ1_DELTA, (qh & 0x80) != 0 ? -IQ1_DELTA : IQ1_DELTA, dst + (<usize>h << 6));
        }
      }
    }
    return 0;
  }
  return -1;
}

// ---------------------------------------------------------------- IQ4_NL / IQ4_XS quantizer (quantize_row_iq4_nl_impl, ntry 7)

const IQ4_NTRY = 7;
const IQ4ID: usize = memory.data(16 * 4, 16); // inverse scale of try t: t = 0 the first guess, t = 1 + (itry + 7)
const IQ4SQX: usize = memory.data(16 * 4, 16); // Σ w·q·x of try t
const IQ4SQ2: usize = memory.data(16 * 4, 16); // Σ w·q·q of try t
const IQ4SCALES: usize = memory.data(8 * 4, 16); // the sub-block scales of the current super-block

/** kvalues_iq4nl[idx] as floats, idx in the low byte of each i32 lane (indices 0…15). */
@inline function iq4Value4(idx: v128): v128 {
  const kv = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const b = i8x16.swizzle(kv, v128.or(idx, i32x4.splat(0xffffff00)));
  return f32x4.convert_i32x4_s(i32x4.shr_s(i32x4.shl(b, 24), 24));
}

/**
 * best_index_int8(16, kvalues_iq4nl, x) on four lanes. Inside (v0, v15) the bisection ends at the mu with
 * v[mu−1] ≤ x < v[mu], which is 15 − #{i ∈ 1…14 : x < v[i]} (also 15 for NaN, as the bisection gives); then the
 * lower one wins only when x − v[mu−1] < v[mu] − x.
 */
@inline function iq4Index4(x: v128): v128 {
  let mu = i32x4.splat(15);
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-104)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-83)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-65)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-49)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-35)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-22)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(-10)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(1)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(13)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(25)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(38)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(53)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(69)));
  mu = i32x4.add(mu, f32x4.lt(x, f32x4.splat(89)));
  const ml = i32x4.sub(mu, i32x4.splat(1));
  let idx = v128.bitselect(ml, mu, f32x4.lt(f32x4.sub(x, iq4Value4(ml)), f32x4.sub(iq4Value4(mu), x)));
  idx = v128.andnot(idx, f32x4.le(x, f32x4.splat(-127)));
  return v128.bitselect(i32x4.splat(15), idx, f32x4.ge(x, f32x4.splat(113)));
}

/** Σ w·q·x and Σ w·q·q over the 32 values at x for the four tries whose inverse scales are at ids (into sqx, sq2). */
function iq4Sums4(x: usize, ids: usize, sqx: usize, sq2: usize): void {
  const id = v128.load(ids);
  let sumqx = f32x4.splat(0);
  let sumq2 = f32x4.splat(0);
  for (let j = 0; j < 32; j++) {
    const xv = f32x4.splat(ldf(x, j));
    const q = iq4Value4(iq4Index4(f32x4.mul(id, xv)));
    const wq = f32x4.mul(f32x4.splat(ldf(WGT, j)), q);
    sumqx = f32x4.add(sumqx, f32x4.mul(wq, xv));
    sumq2 = f32x4.add(sumq2, f32x4.mul(wq, q));
  }
  v128.store(sqx, sumqx);
  v128.store(sq2, sumq2);
}

/** best_index_int8 of id·x for n values at x (n a multiple of 4), as bytes at L. */
function iq4Levels32(x: usize, id: f32, n: i32, L: usize): void {
  const idv = f32x4.splat(id);
  for (let j = 0; j < n; j += 4) {
    const idx = iq4Index4(f32x4.mul(idv, v128.load(x + (<usize>j << 2))));
    stb(L, j, i32x4.extract_lane(idx, 0));
    stb(L, j + 1, i32x4.extract_lane(idx, 1));
    stb(L, j + 2, i32x4.extract_lane(idx, 2));
    stb(L, j + 3, i32x4.extract_lane(idx, 3));
  }
}

/**
 * The scale search of one 32-element sub-block (weights in WGT): the first guess −max/v0 and the 15 tries
 * (itry + v0)/max run as four groups of four lanes (each lane the scalar sums of its try, in element order), then
 * C's sequential choice among them. Returns the scale (0 for a block below GROUP_MAX_EPS).
 */
function iq4Scale(x: usize): f32 {
  const max = signedAbsMax32(x);
  if (Mathf.abs(max) < GROUP_MAX_EPS) return 0;
  const v0: f32 = -127;
  stf(IQ4ID, 0, <f32>1 / (-max / v0));
  for (let itry = -IQ4_NTRY; itry <= IQ4_NTRY; itry++) stf(IQ4ID, itry + IQ4_NTRY + 1, <f32>(itry - 127) / max);
  for (let t = 0; t < 16; t += 4) iq4Sums4(x, IQ4ID + (<usize>t << 2), IQ4SQX + (<usize>t << 2), IQ4SQ2 + (<usize>t << 2));
  let sumqx = ldf(IQ4SQX, 0);
  let sumq2 = ldf(IQ4SQ2, 0);
  let d: f32 = sumq2 > 0 ? sumqx / sumq2 : 0;
  let best = d * sumqx;
  for (let t = 1; t < 16; t++) {
    sumqx = ldf(IQ4SQX, t);
    sumq2 = ldf(IQ4SQ2, t);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

/** One super-block of sbs = 32 (IQ4_NL: d | qs[16]) or 256 (IQ4_XS: d | scales_h | scales_l[4] | qs[128]). */
function iq4Block(x: usize, sbs: i32, qw: usize, y: usize): void {
  const nb = sbs >> 5;
  const qs = y + (nb > 1 ? 8 : 2);
  let sigma2: f32 = 0;
  if (qw != 0) {
    for (let j = 0; j < sbs; j++) {
      const v = ldf(x, j);
      sigma2 += v * v;
    }
    sigma2 *= <f32>2 / <f32>sbs;
  }
  let maxScale: f32 = 0;
  let amaxScale: f32 = 0;
  for (let ib = 0; ib < nb; ib++) {
    const xb = x + (<usize>ib << 7);
    if (qw != 0) {
      const s2 = f32x4.splat(sigma2);
      const qb = qw + (<usize>ib << 7);
      for (let j = 0; j < 32; j += 4) {
        const v = v128.load(xb + (<usize>j << 2));
        v128.store(WGT + (<usize>j << 2), f32x4.mul(v128.load(qb + (<usize>j << 2)), f32x4.sqrt(f32x4.add(s2, f32x4.mul(v, v)))));
      }
    } else {
      for (let j = 0; j < 32; j += 4) {
        const v = v128.load(xb + (<usize>j << 2));
        v128.store(WGT + (<usize>j << 2), f32x4.mul(v, v));
      }
    }
    const d = iq4Scale(xb);
    stf(IQ4SCALES, ib, d);
    const absD = Mathf.abs(d);
    if (absD > amaxScale) {
      amaxScale = absD;
      maxScale = d;
    }
  }
  if (nb > 1) {
    let scalesH = 0;
    const d = -maxScale / <f32>32;
    st16(y, fp32ToFp16(d));
    store<u32>(y + 4, 0);
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    for (let ib = 0; ib < nb; ib++) {
      let l = nearestInt(id * ldf(IQ4SCALES, ib));
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const dl = d * <f32>l;
      const idl: f32 = dl != 0 ? <f32>1 / dl : 0;
      iq4Levels32(x + (<usize>ib << 7), idl, 32, LEV + (<usize>ib << 5));
      l += 32;
      orb(y + 4, ib >> 1, (l & 0xf) << (4 * (ib & 1)));
      scalesH |= (l >> 4) << (2 * ib);
    }
    st16(y + 2, scalesH);
  } else {
    const s = ldf(IQ4SCALES, 0);
    st16(y, fp32ToFp16(s));
    iq4Levels32(x, s != 0 ? <f32>1 / s : 0, 32, LEV);
  }
  for (let i = 0; i < nb; i++) {
    const lo = v128.load(LEV + (<usize>i << 5));
    const hi = v128.load(LEV + (<usize>i << 5) + 16);
    v128.store(qs + (<usize>i << 4), v128.or(lo, i8x16.shl(hi, 4)));
  }
}

/** quantize_iq4_nl (type 20) / quantize_iq4_xs (type 23): every row's super-blocks, the imatrix slice at the same column. */
function quantizeIq4(type: i32, src: usize, nrows: i32, nPerRow: i32, imatrix: usize, dst: usize): i32 {
  if (type != 20 && type != 23) return -1;
  const sbs = type == 20 ? 32 : QK_K;
  const bytes: usize = type == 20 ? 18 : 136;
  const nbRow = nPerRow / sbs;
  let y = dst;
  for (let r = 0; r < nrows; r++) {
    for (let i = 0; i < nbRow; i++, y += bytes) {
      const x = src + ((<usize>r * <usize>nPerRow + <usize>i * <usize>sbs) << 2);
      iq4Block(x, sbs, imatrix != 0 ? imatrix + (<usize>(i * sbs) << 2) : 0, y);
    }
  }
  return 0;
}

// ---------------------------------------------------------------- grid i-quants, whole rows (iq1.ts, iq2.ts, iq3.ts)

// The search grids (coordinates 2·level + 1, kmap, neighbour lists) live in GRID_ARENA, laid out once per instance by
// the host (wasm-kernels.ts placeGridOf) from the same SearchGrid the TypeScript reference uses, as ggml's
// iq2xs_init_impl / iq3xs_init_impl build them once. Each neighbour list is padded to a multiple of 4 (with copies of
// its last point, which can never be the first least distance) and stored twice: the grid indices (u16) and, per 4
// points, their coordinates transposed ([coordinate][point]) for scoring four candidates per f32x4, each lane adding
// its terms in C's order: as floats for the 4-wide IQ3 grids; for the 8-wide grids, whose coordinates take 3 levels,
// as byte offsets 4·level into a per-search table of each coordinate's 3 possible terms (IQ2: spread to the 4 bytes
// of the lane, IQ1: one byte). One block's inputs and levels live in the GS_* scratch arrays.
const GRID_ARENA_BYTES: i32 = 24 << 20;
const GRID_ARENA: usize = memory.data(GRID_ARENA_BYTES, 16);
const GRID_PLACES: usize = memory.data(8 * 5 * 4, 16); // per slot: coords, map, nb, pool, tpool
const GS_XVAL: usize = memory.data(32 * 4, 16); // |x| (sign-adjusted); IQ1: x itself
const GS_W: usize = memory.data(32 * 4, 16); // weights of the sums
const GS_WAUX: usize = memory.data(32 * 4, 16); // sqrtf(weight): the IQ2/IQ3 neighbour search's weights
const GS_L: usize = memory.data(32, 16); // best levels (in: the initial levels)
const GS_LAUX: usize = memory.data(32, 16);
const GS_ON: usize = memory.data(8, 16); // is_on_grid of the best trial
const GS_ONAUX: usize = memory.data(8, 16);
const GS_ERR: usize = memory.data(4, 16); // 2 when a neighbour search found no point at a finite distance, or a group stayed off the grid
const GS_SIGNS: usize = memory.data(4, 16); // the sign masks of the current block's 8-groups
const GS_SCALES: usize = memory.data(16 * 4, 16); // the sub-block scales of the current super-block
const GS_SHIFTS: usize = memory.data(16, 16); // IQ1: the delta sign (IQ1_S ±1) / pattern (IQ1_M 0…3) per sub-block
const GS_Q: usize = memory.data(96, 16); // IQ2_XXS / IQ2_XS / IQ3_XXS: the packed block before d is known
const GS_LQP: usize = memory.data(32, 16); // IQ2_XXS: make_qp_quants levels
const GS_INDEX: usize = memory.data(4 * 4, 16); // IQ1: the grid index of each group
const GS_ORDER: usize = memory.data(32, 16); // IQ1: indices sorted by value
const GS_SUMX: usize = memory.data(36 * 4, 16); // IQ1_S prefix sums (padded for 4-lane loads)
const GS_SUMW: usize = memory.data(36 * 4, 16);
const IQ1S_LANES: usize = memory.data(64, 16); // IQ1_S: the four splits' sums of one step
const IQ1S_TAIL: usize = memory.data(4 * 36 * 4, 16); // IQ1_S: the level-2 terms per i2 (x_p Σwx, x_p Σw, x_m Σwx, x_m Σw)
const FLT_MAX: f32 = 3.4028234663852886e38;

// the grid in use (set by useGrid from GRID_PLACES)
let gCoords: usize = 0;
let gMap: usize = 0;
let gNb: usize = 0;
let gPool: usize = 0;
let gTpool: usize = 0;
let gSpread: bool = false; // IQ2 grids: tpool holds each candidate's byte indices into the term tables, spread to 4 bytes

/** The grid arena's address (k = 0) and size (k = 1). */
export function gridArena(k: i32): usize {
  return k == 0 ? GRID_ARENA : <usize>GRID_ARENA_BYTES;
}

/** Records where the host placed grid `slot` (0 iq2xxs, 1 iq2xs, 2 iq2s, 3 iq3xxs, 4 iq3s, 5 iq1). */
export function setGridPlace(slot: i32, coords: usize, map: usize, nb: usize, pool: usize, tpool: usize): void {
  const p = GRID_PLACES + <usize>(slot * 20);
  store<u32>(p, <u32>coords);
  store<u32>(p + 4, <u32>map);
  store<u32>(p + 8, <u32>nb);
  store<u32>(p + 12, <u32>pool);
  store<u32>(p + 16, <u32>tpool);
}

/** Whether grid `slot` has been placed. */
export function gridPlaced(slot: i32): i32 {
  return load<u32>(GRID_PLACES + <usize>(slot * 20)) != 0 ? 1 : 0;
}

function useGrid(slot: i32): void {
  const p = GRID_PLACES + <usize>(slot * 20);
  gCoords = <usize>load<u32>(p);
  gMap = <usize>load<u32>(p + 4);
  gNb = <usize>load<u32>(p + 8);
  gPool = <usize>load<u32>(p + 12);
  gTpool = <usize>load<u32>(p + 16);
  gSpread = slot <= 2;
}

/** nearest_int(0.5f·(id·x − 1)) clamped to 0…kMaxQ−1. */
@inline function gridLevel(id: f32, x: f32, kMaxQ: i32): i32 {
  const l = nearestInt(<f32>0.5 * (id * x - <f32>1));
  return l < 0 ? 0 : l > kMaxQ - 1 ? kMaxQ - 1 : l;
}

/** d2 + (w·diff)·diff, diff = scale·q − x: one term of C's distance sum, four candidates at once. */
@inline function term4(d2: v128, q: v128, vs: v128, x: v128, w: v128): v128 {
  const diff = f32x4.sub(f32x4.mul(vs, q), x);
  return f32x4.add(d2, f32x4.mul(f32x4.mul(w, diff), diff));
}

/** (w·diff)·diff with diff = scale·q − x for the levels' q values in the lanes: coordinate i's possible terms. */
@inline function termTable(qv: v128, vs: v128, xp: usize, wp: usize, i: i32): v128 {
  const diff = f32x4.sub(f32x4.mul(vs, qv), v128.load32_splat(xp + (<usize>i << 2)));
  return f32x4.mul(f32x4.mul(v128.load32_splat(wp + (<usize>i << 2)), diff), diff);
}

/**
 * iq2/iq3_find_best_neighbour (w = GS_WAUX, a = 1, b = 0) and iq1_find_best_neighbour2 (w = GS_W, q = xg[level]) for
 * the group at element o of off-grid vector u: the listed point of least Σ w·(scale·q − x)², first on ties; its
 * levels go to Lp[o…] (unless Lp is 0) and its index is returned (−1 and GS_ERR = 2 when none is below FLT_MAX).
 */
function gridNeighbour(u: i32, dims: i32, o: i32, scale: f32, w: usize, a: f32, b: f32, Lp: usize): i32 {
  const e = load<u32>(gNb + (<usize>u << 2));
  const start = <usize>(e >> 9);
  const len = <i32>(e & 511);
  const list = gPool + (start << 1);
  const vs = f32x4.splat(scale);
  const va = f32x4.splat(a);
  const vb = f32x4.splat(b);
  const xp = GS_XVAL + (<usize>o << 2);
  const wp = w + (<usize>o << 2);
  // per lane: the least distance so far and its list position (strict `<`: the first of equal ones)
  let bestV = f32x4.splat(FLT_MAX);
  let bestP = i32x4.splat(-1);
  let posV = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  if (dims == 8) {
    // each coordinate takes 3 levels, so each term w·(scale·q − x)² takes 3 values: computed once per coordinate (the
    // same float ops), then looked up per candidate with a byte swizzle (tpool holds 4·level per coordinate)
    const qv = f32x4.add(f32x4.mul(f32x4(1, 3, 5, 7), va), vb);
    const t0 = termTable(qv, vs, xp, wp, 0), t1 = termTable(qv, vs, xp, wp, 1), t2 = termTable(qv, vs, xp, wp, 2), t3 = termTable(qv, vs, xp, wp, 3);
    const t4 = termTable(qv, vs, xp, wp, 4), t5 = termTable(qv, vs, xp, wp, 5), t6 = termTable(qv, vs, xp, wp, 6), t7 = termTable(qv, vs, xp, wp, 7);
    if (gSpread) {
      // tpool: per 4 candidates, per coordinate, 16 bytes: candidate l's term at byte 4·level + (0…3) of lane l
      let t = gTpool + (start << 5);
      for (let j = 0; j < len; j += 4, t += 128) {
        let d2 = f32x4.splat(0);
        d2 = f32x4.add(d2, i8x16.swizzle(t0, v128.load(t)));
        d2 = f32x4.add(d2, i8x16.swizzle(t1, v128.load(t + 16)));
        d2 = f32x4.add(d2, i8x16.swizzle(t2, v128.load(t + 32)));
        d2 = f32x4.add(d2, i8x16.swizzle(t3, v128.load(t + 48)));
        d2 = f32x4.add(d2, i8x16.swizzle(t4, v128.load(t + 64)));
        d2 = f32x4.add(d2, i8x16.swizzle(t5, v128.load(t + 80)));
        d2 = f32x4.add(d2, i8x16.swizzle(t6, v128.load(t + 96)));
        d2 = f32x4.add(d2, i8x16.swizzle(t7, v128.load(t + 112)));
        const m = f32x4.lt(d2, bestV);
        bestV = v128.bitselect(d2, bestV, m);
        bestP = v128.bitselect(posV, bestP, m);
        posV = i32x4.add(posV, four);
      }
    } else {
    const offs = i8x16(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    let t = gTpool + (start << 3);
    for (let j = 0; j < len; j += 4, t += 32) {
      const lo = v128.load(t); // coordinates 0…3 of the four candidates, [coordinate][candidate]
      const hi = v128.load(t + 16); // coordinates 4…7
      let d2 = f32x4.splat(0);
      d2 = f32x4.add(d2, i8x16.swizzle(t0, i8x16.add(i8x16.swizzle(lo, i8x16(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t1, i8x16.add(i8x16.swizzle(lo, i8x16(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t2, i8x16.add(i8x16.swizzle(lo, i8x16(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t3, i8x16.add(i8x16.swizzle(lo, i8x16(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t4, i8x16.add(i8x16.swizzle(hi, i8x16(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t5, i8x16.add(i8x16.swizzle(hi, i8x16(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t6, i8x16.add(i8x16.swizzle(hi, i8x16(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11)), offs)));
      d2 = f32x4.add(d2, i8x16.swizzle(t7, i8x16.add(i8x16.swizzle(hi, i8x16(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15)), offs)));
      const m = f32x4.lt(d2, bestV);
      bestV = v128.bitselect(d2, bestV, m);
      bestP = v128.bitselect(posV, bestP, m);
      posV = i32x4.add(posV, four);
    }
    }
  } else {
    const x0 = f32x4.splat(ldf(xp, 0)), x1 = f32x4.splat(ldf(xp, 1)), x2 = f32x4.splat(ldf(xp, 2)), x3 = f32x4.splat(ldf(xp, 3));
    const w0 = f32x4.splat(ldf(wp, 0)), w1 = f32x4.splat(ldf(wp, 1)), w2 = f32x4.splat(ldf(wp, 2)), w3 = f32x4.splat(ldf(wp, 3));
    // the IQ3 grids: tpool holds the coordinates as floats, [coordinate][candidate] per 4 candidates
    let t = gTpool + (start << 4);
    for (let j = 0; j < len; j += 4, t += 64) {
      let d2 = f32x4.splat(0);
      d2 = term4(d2, v128.load(t), vs, x0, w0);
      d2 = term4(d2, v128.load(t + 16), vs, x1, w1);
      d2 = term4(d2, v128.load(t + 32), vs, x2, w2);
      d2 = term4(d2, v128.load(t + 48), vs, x3, w3);
      const m = f32x4.lt(d2, bestV);
      bestV = v128.bitselect(d2, bestV, m);
      bestP = v128.bitselect(posV, bestP, m);
      posV = i32x4.add(posV, four);
    }
  }
  // C's sequential strict `<` keeps the first point of least distance: each lane kept the first of its least, so take
  // the least over the lanes, the earliest position on a tie (lanes that never beat FLT_MAX hold position −1)
  let m = f32x4.pmin(bestV, i32x4.shuffle(bestV, bestV, 2, 3, 0, 1));
  m = f32x4.pmin(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  const none = i32x4.splat(0x7fffffff);
  const tied = v128.and(f32x4.eq(bestV, m), i32x4.ge_s(bestP, i32x4.splat(0)));
  let p = v128.bitselect(bestP, none, tied);
  p = i32x4.min_s(p, i32x4.shuffle(p, p, 2, 3, 0, 1));
  p = i32x4.min_s(p, i32x4.shuffle(p, p, 1, 0, 3, 2));
  const first = i32x4.extract_lane(p, 0);
  const pos = first == 0x7fffffff ? -1 : first;
  if (pos < 0) {
    store<i32>(GS_ERR, 2);
    return -1;
  }
  const best = <i32>load<u16>(list + (<usize>pos << 1));
  if (Lp != 0) {
    const c = gCoords + <usize>(best * dims);
    for (let i = 0; i < dims; i++) stb(Lp, o + i, (<i32>load<i8>(c + <usize>i) - 1) >> 1);
  }
  return best;
}

/** Levels of every group at inverse scale id, snapped to the grid (neighbour search at `scale` when off it). */
function gridSnap(dims: i32, groups: i32, kMaxQ: i32, id: f32, scale: f32, Lp: usize, on: usize, skipOn: bool): void {
  const bits = dims == 8 ? 2 : 3;
  for (let k = 0; k < groups; k++) {
    if (skipOn && ldb(GS_ON, k) != 0) continue;
    const o = k * dims;
    let u = 0;
    for (let i = 0; i < dims; i++) {
      const l = gridLevel(id, ldf(GS_XVAL, o + i), kMaxQ);
      stb(Lp, o + i, l);
      u |= l << (bits * i);
    }
    const g = load<i32>(gMap + (<usize>u << 2));
    if (on != 0) stb(on, k, g >= 0 ? 1 : 0);
    if (g < 0) gridNeighbour(u, dims, o, scale, GS_WAUX, 1, 0, Lp);
  }
}

/** Σ w·x·q and Σ w·q·q with q = 2L + 1 over n elements, in element order; Σ w·q·q is left in GS_SUMQ2. */
const GS_SUMQ2: usize = memory.data(4, 16);
function gridSums(Lp: usize, n: i32): f32 {
  let sumqx: f32 = 0;
  let sumq2: f32 = 0;
  for (let i = 0; i < n; i++) {
    const w = ldf(GS_W, i);
    const q = <f32>(ldb(Lp, i) * 2 + 1);
    sumqx += w * ldf(GS_XVAL, i) * q;
    sumq2 += w * q * q;
  }
  stf(GS_SUMQ2, 0, sumq2);
  return sumqx;
}

const GT_Q: usize = memory.data(32 * 16, 16); // per element, four trials' q = 2·level + 1 (f32x4)
const GT_ON: usize = memory.data(8 * 4, 16); // [group][trial] is_on_grid
const GT_U: usize = memory.data(16, 16); // four trials' packed level vectors of one group
const GT_SC: usize = memory.data(16, 16); // four trials' scales
const GT_SUMS: usize = memory.data(32, 16); // four trials' Σwxq, then Σwqq
const GT_WX: usize = memory.data(32 * 4, 16); // w·x per element
const GT_BESTQ: usize = memory.data(32 * 16, 16); // GT_Q of the step holding the best trial so far
const GT_BESTON: usize = memory.data(8 * 4, 16); // GT_ON of that step

/** nearest_int lane-wise (the 1.5·2^23 trick). */
@inline function nearestInt4(v: v128): v128 {
  return i32x4.sub(v128.and(f32x4.add(v, f32x4.splat(12582912.0)), i32x4.splat(0x007fffff)), i32x4.splat(0x00400000));
}

/**
 * The trial loop of the scale search, four consecutive trials in the four lanes: each lane computes its levels, snaps
 * its groups (the neighbour search per lane, with that trial's scale) and sums Σ(w·x)·q, Σ(w·q)·q in element order,
 * exactly as C does for that trial; then the trials are judged one by one in C's order. The best trial's levels go to
 * GS_L and its on-grid flags to GS_ON; returns the scale (the initial one when no trial wins).
 */
function gridTrials(dims: i32, n: i32, kMaxQ: i32, nsteps: i32, step: f32, base: f32, scale: f32): f32 {
  const groups = n / dims;
  const bits = dims == 8 ? 2 : 3;
  let best: f32 = 0;
  let bestLane = -1; // the winning trial's lane in GT_BESTQ / GT_BESTON (−1: none won, GS_L stays as it came)
  for (let i = 0; i < n; i++) stf(GT_WX, i, ldf(GS_W, i) * ldf(GS_XVAL, i));
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const lo = i32x4.splat(0);
  const hi = i32x4.splat(kMaxQ - 1);
  const lanes = i32x4(0, 1, 2, 3);
  for (let is = -nsteps; is <= nsteps; is += 4) {
    const nl = nsteps - is + 1 < 4 ? nsteps - is + 1 : 4;
    const isv = f32x4.convert_i32x4_s(i32x4.add(i32x4.splat(is), lanes));
    const idv = f32x4.div(f32x4.add(f32x4.splat(<f32>(kMaxQ * 2 - 1)), f32x4.mul(isv, f32x4.splat(step))), f32x4.splat(base));
    v128.store(GT_SC, f32x4.div(one, idv));
    for (let k = 0; k < groups; k++) {
      const o = k * dims;
      let u = i32x4.splat(0);
      for (let i = 0; i < dims; i++) {
        const x = v128.load32_splat(GS_XVAL + (<usize>(o + i) << 2));
        let l = nearestInt4(f32x4.mul(half, f32x4.sub(f32x4.mul(idv, x), one)));
        l = i32x4.min_s(i32x4.max_s(l, lo), hi);
        v128.store(GT_Q + (<usize>(o + i) << 4), f32x4.convert_i32x4_s(i32x4.add(i32x4.shl(l, 1), i32x4.splat(1))));
        u = v128.or(u, i32x4.shl(l, bits * i));
      }
      v128.store(GT_U, u);
      for (let t = 0; t < nl; t++) {
        const uu = load<i32>(GT_U + (<usize>t << 2));
        const on = load<i32>(gMap + (<usize>uu << 2)) >= 0;
        stb(GT_ON, 4 * k + t, on ? 1 : 0);
        if (!on) {
          const g = gridNeighbour(uu, dims, o, ldf(GT_SC, t), GS_WAUX, 1, 0, 0);
          if (g >= 0) {
            const c = gCoords + <usize>(g * dims);
            for (let i = 0; i < dims; i++) store<f32>(GT_Q + (<usize>(o + i) << 4) + (<usize>t << 2), <f32>load<i8>(c + <usize>i));
          }
        }
      }
    }
    let sqx = f32x4.splat(0);
    let sq2 = f32x4.splat(0);
    for (let i = 0; i < n; i++) {
      const q = v128.load(GT_Q + (<usize>i << 4));
      sqx = f32x4.add(sqx, f32x4.mul(v128.load32_splat(GT_WX + (<usize>i << 2)), q));
      sq2 = f32x4.add(sq2, f32x4.mul(f32x4.mul(v128.load32_splat(GS_W + (<usize>i << 2)), q), q));
    }
    v128.store(GT_SUMS, sqx);
    v128.store(GT_SUMS + 16, sq2);
    let saved = false;
    for (let t = 0; t < nl; t++) {
      const sumqx = ldf(GT_SUMS, t);
      const sumq2 = ldf(GT_SUMS + 16, t);
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        scale = sumqx / sumq2;
        best = scale * sumqx;
        // keep this step's levels and flags; the winning lane's are unpacked once, after the last step
        if (!saved) {
          memory.copy(GT_BESTQ, GT_Q, <usize>(n << 4));
          memory.copy(GT_BESTON, GT_ON, <usize>(groups << 2));
          saved = true;
        }
        bestLane = t;
      }
    }
  }
  if (bestLane >= 0) {
    for (let i = 0; i < n; i++) stb(GS_L, i, (<i32>load<f32>(GT_BESTQ + (<usize>i << 4) + (<usize>bestLane << 2)) - 1) >> 1);
    for (let k = 0; k < groups; k++) stb(GS_ON, k, ldb(GT_BESTON, 4 * k + bestLane));
  }
  return scale;
}

/**
 * searchScale of iquant-scale-search.ts on GS_XVAL / GS_W / GS_WAUX with GS_L holding the initial levels, on the
 * grid in use: trial inverse scales (2·kMaxQ − 1 + is·step)/base for is = −nsteps…nsteps, each group snapped to the
 * grid, the trial of best Σwxq²/Σwq² kept, then the refit (refit 0: off-grid groups, 1: every group if any is off the
 * grid, 2: every group whenever the scale is positive). Then, as the quantizers do, a negative scale is made positive
 * by inverting the first `groups` sign masks in GS_SIGNS (`mask` 127 or 0xff). Returns the scale.
 */
function gridSearch(dims: i32, n: i32, kMaxQ: i32, nsteps: i32, step: f32, refit: i32, base: f32, scale: f32, mask: i32): f32 {
  const groups = n / dims;
  for (let k = 0; k < groups; k++) stb(GS_ON, k, refit == 1 ? 0 : 1);
  scale = gridTrials(dims, n, kMaxQ, nsteps, step, base, scale);
  let notOnGrid = 0;
  for (let k = 0; k < groups; k++) if (ldb(GS_ON, k) == 0) notOnGrid++;
  const doRefit = refit == 2 ? scale > 0 : notOnGrid > 0 && scale > 0;
  if (doRefit) {
    gridSnap(dims, groups, kMaxQ, <f32>1 / scale, scale, GS_L, 0, refit == 0);
    const sumqx = gridSums(GS_L, n);
    const sumq2 = ldf(GS_SUMQ2, 0);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  if (scale < 0) {
    for (let k = 0; k < groups; k++) stb(GS_SIGNS, k, ~ldb(GS_SIGNS, k) & mask);
    scale = -scale;
  }
  return scale;
}

/** The grid index of group k of GS_L (ggml aborts when it is off the grid; here GS_ERR = 2 and 0). */
function gridIndexOf(k: i32, dims: i32): i32 {
  const bits = dims == 8 ? 2 : 3;
  const kMaxQ = dims == 8 ? 3 : 8;
  let u = 0;
  let inRange = true;
  for (let i = 0; i < dims; i++) {
    const l = <i32>load<i8>(GS_L + <usize>(dims * k + i));
    // levels outside 0…kMaxQ−1 (make_qp_quants' levels when no trial scale won: non-finite input) are never on the grid
    if (l < 0 || l >= kMaxQ) inRange = false;
    u |= (l & ((1 << bits) - 1)) << (bits * i);
  }
  const g = inRange ? load<i32>(gMap + (<usize>u << 2)) : -1;
  if (g < 0) {
    store<i32>(GS_ERR, 2);
    return 0;
  }
  return g;
}

/** Σx² over n floats, sequentially in float32. */
function sumSquares(x: usize, n: i32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    s += v * v;
  }
  return s;
}

/**
 * The sub-block weights into GS_W: qw·sqrtf(sigma2 + x²) with an imatrix, else x² (mode 0) or 0.25·sigma2 + x²
 * (mode 1, IQ2_S); then GS_WAUX = sqrtf(weight).
 */
function gridWeights(x: usize, n: i32, qw: usize, sigma2: f32, mode: i32): void {
  if (qw != 0) {
    for (let i = 0; i < n; i++) {
      const v = ldf(x, i);
      stf(GS_W, i, ldf(qw, i) * sqrt<f32>(sigma2 + v * v));
    }
  } else if (mode == 1) {
    const q = <f32>0.25 * sigma2;
    for (let i = 0; i < n; i++) {
      const v = ldf(x, i);
      stf(GS_W, i, q + v * v);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = ldf(x, i);
      stf(GS_W, i, v * v);
    }
  }
  for (let i = 0; i < n; i++) stf(GS_WAUX, i, sqrt<f32>(ldf(GS_W, i)));
}

/**
 * |x| of the 8 values at x into GS_XVAL[vo…] and their sign bits into GS_SIGNS[k]; with evenParity, when an odd
 * number are negative the element of least w·x² keeps its sign (the 7 stored bits imply even parity), mask 127.
 */
function groupSigns(x: usize, vo: i32, k: i32, evenParity: bool): void {
  let nflip = 0;
  let s = 0;
  for (let i = 0; i < 8; i++) {
    const v = ldf(x, i);
    if (v >= 0) stf(GS_XVAL, vo + i, v);
    else {
      stf(GS_XVAL, vo + i, -v);
      nflip++;
      s |= 1 << i;
    }
  }
  if (evenParity) {
    if (nflip & 1) {
      let imin = 0;
      let mn = ldf(GS_W, vo) * ldf(x, 0) * ldf(x, 0);
      for (let i = 1; i < 8; i++) {
        const ax = ldf(GS_W, vo + i) * ldf(x, i) * ldf(x, i);
        if (ax < mn) {
          mn = ax;
          imin = i;
        }
      }
      stf(GS_XVAL, vo + imin, -ldf(GS_XVAL, vo + imin));
      s ^= 1 << imin;
    }
    s &= 127;
  }
  stb(GS_SIGNS, k, s);
}

/** max of GS_XVAL[0…n) as MAX(max, v) from xval[0] finds it. */
function largestXval(n: i32): f32 {
  let mx = ldf(GS_XVAL, 0);
  for (let i = 1; i < n; i++) {
    const v = ldf(GS_XVAL, i);
    mx = mx > v ? mx : v;
  }
  return mx;
}

/** nearest_int(0.5f·(id·scale − 1)) clamped to 0…cap. */
@inline function scaleCode(id: f32, scale: f32, cap: i32): i32 {
  const l = nearestInt(<f32>0.5 * (id * scale - <f32>1));
  return l < 0 ? 0 : l > cap ? cap : l;
}

/** quantize_row_iq3_xxs_impl, one super-block (98 B). */
function iq3XxsBlock(x: usize, qw: usize, y: usize): void {
  st16(y, 0);
  memory.fill(GS_Q, 0, 96);
  let maxScale: f32 = 0;
  const sigma2 = (<f32>2 * sumSquares(x, QK_K)) / <f32>QK_K;
  for (let ib = 0; ib < 8; ib++) {
    const xb = x + (<usize>(32 * ib) << 2);
    gridWeights(xb, 32, qw != 0 ? qw + (<usize>(32 * ib) << 2) : 0, sigma2, 0);
    for (let k = 0; k < 4; k++) groupSigns(xb + (<usize>(8 * k) << 2), 8 * k, k, true);
    const mx = largestXval(32);
    memory.fill(GS_L, 0, 32);
    if (mx < <f32>1e-8) {
      stf(GS_SCALES, ib, 0);
      continue;
    }
    const scale = gridSearch(4, 32, 8, 15, <f32>0.2, 0, mx, mx / <f32>15, 127);
    for (let k = 0; k < 8; k++) stb(GS_Q, 8 * ib + k, gridIndexOf(k, 4));
    store<u32>(GS_Q + 64 + <usize>(4 * ib), <u32>(ldb(GS_SIGNS, 0) | (ldb(GS_SIGNS, 1) << 7) | (ldb(GS_SIGNS, 2) << 14) | (ldb(GS_SIGNS, 3) << 21)));
    stf(GS_SCALES, ib, scale);
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (maxScale == 0) {
    memory.fill(y + 2, 0, 96);
    return;
  }
  const d = maxScale / <f32>31;
  st16(y, fp32ToFp16(d * <f32>1.0125));
  const id = <f32>1 / d;
  for (let ib = 0; ib < 8; ib++) {
    const p = GS_Q + 64 + <usize>(4 * ib);
    store<u32>(p, load<u32>(p) | (<u32>scaleCode(id, ldf(GS_SCALES, ib), 15) << 28));
  }
  memory.copy(y + 2, GS_Q, 96);
}

/** quantize_row_iq3_s_impl, one super-block (110 B); an all-zero 32-block does not advance qs / signs (ggml). */
function iq3SBlock(x: usize, qw: usize, y: usize): void {
  memory.fill(y, 0, 110);
  let qs = y + 2;
  let signs = y + 74;
  let maxScale: f32 = 0;
  const sigma2 = (<f32>2 * sumSquares(x, QK_K)) / <f32>QK_K;
  for (let ib = 0; ib < 8; ib++) {
    const xb = x + (<usize>(32 * ib) << 2);
    gridWeights(xb, 32, qw != 0 ? qw + (<usize>(32 * ib) << 2) : 0, sigma2, 0);
    for (let k = 0; k < 4; k++) groupSigns(xb + (<usize>(8 * k) << 2), 8 * k, k, false);
    const mx = largestXval(32);
    memory.fill(GS_L, 0, 32);
    if (mx == 0) {
      stf(GS_SCALES, ib, 0);
      continue;
    }
    const scale = gridSearch(4, 32, 8, 9, <f32>0.2, 1, mx, mx / <f32>15, 0xff);
    for (let k = 0; k < 8; k++) {
      const g = gridIndexOf(k, 4);
      stb(qs, k, g & 255);
      orb(y + 66, ib, (g >> 8) << k);
    }
    qs += 8;
    for (let k = 0; k < 4; k++) stb(signs, k, ldb(GS_SIGNS, k));
    signs += 4;
    stf(GS_SCALES, ib, scale);
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (maxScale == 0) return;
  const d = maxScale / <f32>31;
  st16(y, fp32ToFp16(d * <f32>1.033));
  const id = <f32>1 / d;
  for (let ib = 0; ib < 8; ib += 2) stb(y + 106, ib >> 1, scaleCode(id, ldf(GS_SCALES, ib), 15) | (scaleCode(id, ldf(GS_SCALES, ib + 1), 15) << 4));
}

/** quantize_row_iq2_xxs_impl, one super-block (66 B); needs the imatrix. */
function iq2XxsBlock(x: usize, qw: usize, y: usize): void {
  st16(y, 0);
  memory.fill(GS_Q, 0, 64);
  let maxScale: f32 = 0;
  const sigma2 = sumSquares(x, QK_K) / <f32>QK_K;
  for (let ib = 0; ib < 8; ib++) {
    const xb = x + (<usize>(32 * ib) << 2);
    gridWeights(xb, 32, qw + (<usize>(32 * ib) << 2), sigma2, 0);
    for (let k = 0; k < 4; k++) groupSigns(xb + (<usize>(8 * k) << 2), 8 * k, k, true);
    const mx = largestXval(32);
    if (mx < GROUP_MAX_EPS) {
      stf(GS_SCALES, ib, 0);
      continue;
    }
    let scale = makeQpQuants(32, 4, GS_XVAL, GS_LQP, GS_W);
    memory.copy(GS_L, GS_LQP, 32); // (uint8_t*)L: the same bytes
    const effMax = scale * <f32>3;
    if (effMax <= 0) {
      stf(GS_SCALES, ib, 0);
      continue;
    }
    scale = gridSearch(8, 32, 3, 6, <f32>0.1, 2, effMax, scale, 127);
    const p = GS_Q + <usize>(8 * ib);
    let q0: u32 = 0;
    let q1: u32 = 0;
    for (let k = 0; k < 4; k++) {
      q0 |= <u32>gridIndexOf(k, 8) << (8 * k);
      q1 |= <u32>ldb(GS_SIGNS, k) << (7 * k);
    }
    store<u32>(p, q0);
    store<u32>(p + 4, q1);
    stf(GS_SCALES, ib, scale);
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (maxScale == 0) {
    memory.fill(y + 2, 0, 64);
    return;
  }
  const d = maxScale / <f32>31;
  st16(y, fp32ToFp16(d));
  const id = <f32>1 / d;
  for (let ib = 0; ib < 8; ib++) {
    const p = GS_Q + <usize>(8 * ib + 4);
    store<u32>(p, load<u32>(p) | (<u32>scaleCode(id, ldf(GS_SCALES, ib), 15) << 28));
  }
  memory.copy(y + 2, GS_Q, 64);
}

/**
 * IQ2_XS (s = false) and IQ2_S (s = true): 16 sub-blocks of 16, each two 8-wide groups; IQ2_XS keeps its u16 index |
 * signs << 9 words in GS_Q, IQ2_S writes qs / signs / qh into y. Returns the largest sub-block scale.
 */
function iq2Sixteen(x: usize, qw: usize, y: usize, s: bool): f32 {
  let maxScale: f32 = 0;
  const sigma2 = ((s ? <f32>2 : <f32>1) * sumSquares(x, QK_K)) / <f32>QK_K;
  for (let ib = 0; ib < 16; ib++) {
    const xb = x + (<usize>(16 * ib) << 2);
    gridWeights(xb, 16, qw != 0 ? qw + (<usize>(16 * ib) << 2) : 0, sigma2, 1);
    for (let k = 0; k < 2; k++) groupSigns(xb + (<usize>(8 * k) << 2), 8 * k, k, !s);
    const mx = largestXval(16);
    memory.fill(GS_L, 0, 16);
    const eps: f32 = s ? <f32>1e-8 : GROUP_MAX_EPS;
    if (mx < eps) {
      stf(GS_SCALES, ib, 0);
      continue;
    }
    const scale = gridSearch(8, 16, 3, 9, <f32>0.1, 0, mx, mx / <f32>5, s ? 0xff : 127);
    for (let k = 0; k < 2; k++) {
      const g = gridIndexOf(k, 8);
      const i8 = 2 * ib + k;
      if (s) {
        stb(y + 2, i8, g & 255);
        orb(y + 66, i8 >> 2, (g >> 8) << (2 * (i8 & 3)));
        stb(y + 34, i8, ldb(GS_SIGNS, k));
      } else {
        store<u16>(GS_Q + <usize>(2 * i8), <u16>(g | (ldb(GS_SIGNS, k) << 9)));
      }
    }
    stf(GS_SCALES, ib, scale);
    maxScale = maxScale > scale ? maxScale : scale;
  }
  return maxScale;
}

/** The 16 4-bit sub-block scales of IQ2_XS / IQ2_S at p. */
function iq2Scales16(id: f32, p: usize): void {
  for (let ib = 0; ib < 16; ib += 2) stb(p, ib >> 1, scaleCode(id, ldf(GS_SCALES, ib), 15) | (scaleCode(id, ldf(GS_SCALES, ib + 1), 15) << 4));
}

/** quantize_row_iq2_xs_impl, one super-block (74 B); needs the imatrix. */
function iq2XsBlock(x: usize, qw: usize, y: usize): void {
  st16(y, 0);
  memory.fill(GS_Q, 0, 64);
  memory.fill(y + 66, 0, 8);
  const maxScale = iq2Sixteen(x, qw, y, false);
  if (maxScale == 0) {
    memory.fill(y + 2, 0, 64);
    return;
  }
  const d = maxScale / <f32>31;
  st16(y, fp32ToFp16(d));
  iq2Scales16(<f32>1 / d, y + 66);
  memory.copy(y + 2, GS_Q, 64);
}

/** quantize_row_iq2_s_impl, one super-block (82 B). */
function iq2SBlock(x: usize, qw: usize, y: usize): void {
  memory.fill(y, 0, 82);
  const maxScale = iq2Sixteen(x, qw, y, true);
  if (maxScale == 0) return;
  const d = maxScale / <f32>31;
  st16(y, fp32ToFp16(d * <f32>0.9875));
  iq2Scales16(<f32>1 / d, y + 74);
}

// ---------------------------------------------------------------- IQ1_S / IQ1_M (iq1.ts)

/** IQ1 weights into GS_W (qw·sqrtf(sigma2 + x²), or x² without an imatrix) and x into GS_XVAL; returns max |x|. */
function iq1Weights(x: usize, n: i32, qw: usize, sigma2: f32): f32 {
  for (let i = 0; i < n; i++) {
    const v = ldf(x, i);
    stf(GS_W, i, qw != 0 ? ldf(qw, i) * sqrt<f32>(sigma2 + v * v) : v * v);
    stf(GS_XVAL, i, v);
  }
  let mx = abs<f32>(ldf(x, 0));
  for (let i = 1; i < n; i++) {
    const a = abs<f32>(ldf(x, i));
    mx = mx > a ? mx : a;
  }
  return mx;
}

/** Indices 0…n−1 of GS_XVAL sorted by value, ties in index order (glibc's stable qsort), into GS_ORDER. */
function iq1Sort(n: i32): void {
  for (let j = 0; j < n; j++) {
    const v = ldf(GS_XVAL, j);
    let k = j;
    while (k > 0 && ldf(GS_XVAL, ldb(GS_ORDER, k - 1)) > v) {
      stb(GS_ORDER, k, ldb(GS_ORDER, k - 1));
      k--;
    }
    stb(GS_ORDER, k, j);
  }
}

/** xg[level] for the delta sign `neg` (x_p: level − 1 + 0.125, x_m: level − 1 − 0.125). */
@inline function iq1Level(level: i32, neg: bool): f32 {
  return <f32>(level - 1) + (neg ? -IQ1_DELTA : IQ1_DELTA);
}

/**
 * Snaps group k (levels in GS_L) to the grid: its index into GS_INDEX[k], the neighbour search (iq1_find_best_neighbour2)
 * when off the grid. Returns whether it was on the grid.
 */
function iq1Snap(k: i32, scale: f32, neg: bool): bool {
  let u = 0;
  for (let j = 0; j < 8; j++) u |= ldb(GS_L, 8 * k + j) << (2 * j);
  let g = load<i32>(gMap + (<usize>u << 2));
  const on = g >= 0;
  // q = c·0.5 + (delta − 1.5) for c = 2·level + 1: exactly xg[level]
  if (!on) g = gridNeighbour(u, 8, 8 * k, scale, GS_W, 0.5, neg ? <f32>-1.625 : <f32>-1.375, GS_L);
  store<i32>(GS_INDEX + (<usize>k << 2), g);
  return on;
}

/** Adds group k's Σ w·q·x, Σ w·q·q (q = xg[level of its grid point]·mult) to sums[0], sums[1]. */
function iq1GroupSums(k: i32, g: i32, neg: bool, mult: f32, x: usize, sums: usize): void {
  let sumqx = ldf(sums, 0);
  let sumq2 = ldf(sums, 1);
  const c = gCoords + <usize>(g << 3);
  for (let j = 0; j < 8; j++) {
    const w = ldf(GS_W, 8 * k + j);
    const q = iq1Level((<i32>load<i8>(c + <usize>j) - 1) >> 1, neg) * mult;
    sumqx += w * q * ldf(x, 8 * k + j);
    sumq2 += w * q * q;
  }
  stf(sums, 0, sumqx);
  stf(sums, 1, sumq2);
}

const IQ1_SUMS: usize = memory.data(8, 16);

/** quantize_row_iq1_s_impl, one super-block (50 B); needs the imatrix. */
function iq1sBlock(x: usize, qw: usize, y: usize): void {
  memory.fill(y, 0, 50);
  let maxScale: f32 = 0;
  const sigma2 = (<f32>2 * sumSquares(x, QK_K)) / <f32>QK_K;
  const xp0: f32 = -1 + IQ1_DELTA, xp1: f32 = IQ1_DELTA, xp2: f32 = 1 + IQ1_DELTA;
  const xm0: f32 = -1 - IQ1_DELTA, xm1: f32 = -IQ1_DELTA, xm2: f32 = 1 - IQ1_DELTA;
  for (let ib = 0; ib < 8; ib++) {
    const xb = x + (<usize>(32 * ib) << 2);
    const mx = iq1Weights(xb, 32, qw + (<usize>(32 * ib) << 2), sigma2);
    if (mx < <f32>1e-12) {
      stf(GS_SCALES, ib, 0);
      stb(GS_SHIFTS, ib, 1);
      continue;
    }
    iq1Sort(32);
    stf(GS_SUMX, 0, 0);
    stf(GS_SUMW, 0, 0);
    for (let j = 0; j < 32; j++) {
      const i = ldb(GS_ORDER, j);
      stf(GS_SUMX, j + 1, ldf(GS_SUMX, j) + ldf(GS_W, i) * ldf(GS_XVAL, i));
      stf(GS_SUMW, j + 1, ldf(GS_SUMW, j) + ldf(GS_W, i));
    }
    const sx0 = ldf(GS_SUMX, 0), sxn = ldf(GS_SUMX, 32);
    const sw0 = ldf(GS_SUMW, 0), swn = ldf(GS_SUMW, 32);
    let bestScore: f32 = -FLT_MAX;
    let scale = mx;
    let besti1 = -1;
    let besti2 = -1;
    let bestShift = 0;
    // four splits i2…i2+3 per step, lanes past 32 masked off; the scalar choice in C's order only when a lane can win
    const vxp1 = f32x4.splat(xp1), vxm1 = f32x4.splat(xm1);
    // the level-2 terms depend on i2 only: (Σx − sx2)·x_p[2], ((Σw − sw2)·x_p[2])·x_p[2] and the x_m ones, per i2
    for (let i2 = 0; i2 <= 32; i2++) {
      const dx2 = sxn - ldf(GS_SUMX, i2);
      const dw2 = swn - ldf(GS_SUMW, i2);
      stf(IQ1S_TAIL, i2, dx2 * xp2);
      stf(IQ1S_TAIL + 144, i2, dw2 * xp2 * xp2);
      stf(IQ1S_TAIL + 288, i2, dx2 * xm2);
      stf(IQ1S_TAIL + 432, i2, dw2 * xm2 * xm2);
    }
    const zero = f32x4.splat(0);
    for (let i1 = 0; i1 <= 32; i1++) {
      const sx1 = ldf(GS_SUMX, i1), sw1 = ldf(GS_SUMW, i1);
      const px0 = (sx1 - sx0) * xp0, mx0 = (sx1 - sx0) * xm0;
      const pw0 = (sw1 - sw0) * xp0 * xp0, mw0 = (sw1 - sw0) * xm0 * xm0;
      const vsx1 = f32x4.splat(sx1), vsw1 = f32x4.splat(sw1);
      const vpx0 = f32x4.splat(px0), vmx0 = f32x4.splat(mx0), vpw0 = f32x4.splat(pw0), vmw0 = f32x4.splat(mw0);
      for (let i2 = i1; i2 <= 32; i2 += 4) {
        const sx2 = v128.load(GS_SUMX + (<usize>i2 << 2));
        const sw2 = v128.load(GS_SUMW + (<usize>i2 << 2));
        const dx1 = f32x4.sub(sx2, vsx1);
        const dw1 = f32x4.sub(sw2, vsw1);
        const o2 = <usize>i2 << 2;
        const pqx = f32x4.add(f32x4.add(vpx0, f32x4.mul(dx1, vxp1)), v128.load(IQ1S_TAIL + o2));
        const pq2 = f32x4.add(f32x4.add(vpw0, f32x4.mul(f32x4.mul(dw1, vxp1), vxp1)), v128.load(IQ1S_TAIL + 144 + o2));
        const mqx = f32x4.add(f32x4.add(vmx0, f32x4.mul(dx1, vxm1)), v128.load(IQ1S_TAIL + 288 + o2));
        const mq2 = f32x4.add(f32x4.add(vmw0, f32x4.mul(f32x4.mul(dw1, vxm1), vxm1)), v128.load(IQ1S_TAIL + 432 + o2));
        const vb = f32x4.splat(bestScore);
        const okp = v128.and(f32x4.gt(pq2, zero), f32x4.gt(f32x4.mul(pqx, pqx), f32x4.mul(vb, pq2)));
        const okm = v128.and(f32x4.gt(mq2, zero), f32x4.gt(f32x4.mul(mqx, mqx), f32x4.mul(vb, mq2)));
        const lanes = i32x4.le_s(i32x4.add(i32x4.splat(i2), i32x4(0, 1, 2, 3)), i32x4.splat(32));
        if (!v128.any_true(v128.and(v128.or(okp, okm), lanes))) continue;
        v128.store(IQ1S_LANES, pqx);
        v128.store(IQ1S_LANES + 16, pq2);
        v128.store(IQ1S_LANES + 32, mqx);
        v128.store(IQ1S_LANES + 48, mq2);
        const last = i2 + 3 < 32 ? i2 + 3 : 32;
        for (let l = i2; l <= last; l++) {
          const o = l - i2;
          let sumqx = ldf(IQ1S_LANES, o);
          let sumq2 = ldf(IQ1S_LANES + 16, o);
          if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2) {
            scale = sumqx / sumq2;
            bestScore = scale * sumqx;
            besti1 = i1;
            besti2 = l;
            bestShift = 1;
          }
          sumqx = ldf(IQ1S_LANES + 32, o);
          sumq2 = ldf(IQ1S_LANES + 48, o);
          if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2) {
            scale = sumqx / sumq2;
            bestScore = scale * sumqx;
            besti1 = i1;
            besti2 = l;
            bestShift = -1;
          }
        }
      }
    }
    if (besti1 < 0 || besti2 < 0 || bestShift == 0) {
      stf(GS_SCALES, ib, 0);
      stb(GS_SHIFTS, ib, 1);
      continue;
    }
    for (let j = 0; j < 32; j++) stb(GS_L, ldb(GS_ORDER, j), j < besti1 ? 0 : j < besti2 ? 1 : 2);
    if (scale < 0) {
      for (let j = 0; j < 32; j++) stb(GS_L, j, 2 - ldb(GS_L, j));
      scale = -scale;
      bestShift = -bestShift;
    }
    const neg = bestShift == -1;
    let allOn = true;
    for (let k = 0; k < 4; k++) if (!iq1Snap(k, scale, neg)) allOn = false;
    if (!allOn) {
      stf(IQ1_SUMS, 0, 0);
      stf(IQ1_SUMS, 1, 0);
      for (let k = 0; k < 4; k++) iq1GroupSums(k, load<i32>(GS_INDEX + (<usize>k << 2)), neg, 1, GS_XVAL, IQ1_SUMS);
      const sumqx = ldf(IQ1_SUMS, 0);
      const sumq2 = ldf(IQ1_SUMS, 1);
      if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    let h = 0;
    for (let k = 0; k < 4; k++) {
      const g = load<i32>(GS_INDEX + (<usize>k << 2));
      stb(y + 2, 4 * ib + k, g & 255);
      h |= (g >> 8) << (3 * k);
    }
    st16(y + 34 + <usize>(2 * ib), h);
    stf(GS_SCALES, ib, scale);
    stb(GS_SHIFTS, ib, bestShift);
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (maxScale == 0) return;
  const d = maxScale / <f32>15;
  st16(y, fp32ToFp16(d * <f32>1.125));
  const id = <f32>1 / d;
  for (let ib = 0; ib < 8; ib++) {
    let l = scaleCode(id, ldf(GS_SCALES, ib), 7);
    if (<i8>ldb(GS_SHIFTS, ib) == -1) l |= 8;
    const p = y + 34 + <usize>(2 * ib);
    st16(p, <u32>load<u16>(p) | (<u32>l << 12));
  }
}

/** IQ1_M's delta sign of group g (0 or 1) for pattern k (0: +,+  1: +,−  2: −,+  3: −,−): true for x_m. */
@inline function iq1mNeg(k: i32, g: i32): bool {
  return g == 0 ? k >= 2 : (k & 1) != 0;
}

/** quantize_row_iq1_m_impl, one super-block (56 B). */
function iq1mBlock(x: usize, qw: usize, y: usize): void {
  memory.fill(y, 0, 56);
  let maxScale: f32 = 0;
  const sigma2 = (<f32>2 * sumSquares(x, QK_K)) / <f32>QK_K;
  for (let ib = 0; ib < 16; ib++) {
    const xb = x + (<usize>(16 * ib) << 2);
    const mx = iq1Weights(xb, 16, qw != 0 ? qw + (<usize>(16 * ib) << 2) : 0, sigma2);
    if (mx < <f32>1e-7) {
      stf(GS_SCALES, ib, 0);
      stb(GS_SHIFTS, ib, 0);
      continue;
    }
    iq1Sort(16);
    iq1mSplitSearch(mx);
    const besti1 = load<i32>(IQ1M_OUT);
    const besti2 = load<i32>(IQ1M_OUT + 4);
    let bestK = load<i32>(IQ1M_OUT + 8);
    let scale = load<f32>(IQ1M_OUT + 12);
    if (besti1 < 0 || besti2 < 0 || bestK < 0) {
      stf(GS_SCALES, ib, 0);
      stb(GS_SHIFTS, ib, 0);
      continue;
    }
    for (let j = 0; j < 16; j++) stb(GS_L, ldb(GS_ORDER, j), j < besti1 ? 0 : j < besti2 ? 1 : 2);
    if (scale < 0) {
      for (let j = 0; j < 16; j++) stb(GS_L, j, 2 - ldb(GS_L, j));
      scale = -scale;
      bestK = 3 - bestK;
    }
    const on0 = iq1Snap(0, scale, iq1mNeg(bestK, 0));
    const on1 = iq1Snap(1, scale, iq1mNeg(bestK, 1));
    if (!on0 || !on1) {
      stf(IQ1_SUMS, 0, 0);
      stf(IQ1_SUMS, 1, 0);
      for (let k = 0; k < 2; k++) iq1GroupSums(k, load<i32>(GS_INDEX + (<usize>k << 2)), iq1mNeg(bestK, k), 1, GS_XVAL, IQ1_SUMS);
      const sumqx = ldf(IQ1_SUMS, 0);
      const sumq2 = ldf(IQ1_SUMS, 1);
      if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    const g0 = load<i32>(GS_INDEX);
    const g1 = load<i32>(GS_INDEX + 4);
    stb(y, 2 * ib, g0 & 255);
    stb(y, 2 * ib + 1, g1 & 255);
    stb(y + 32, ib, (g0 >> 8) | ((g1 >> 8) << 4));
    stf(GS_SCALES, ib, scale);
    stb(GS_SHIFTS, ib, bestK);
    maxScale = maxScale > scale ? maxScale : scale;
  }
  if (maxScale == 0) return;
  let d = maxScale / <f32>15;
  const id = <f32>1 / d;
  stf(IQ1_SUMS, 0, 0);
  stf(IQ1_SUMS, 1, 0);
  for (let ib = 0; ib < 16; ib++) {
    const l = scaleCode(id, ldf(GS_SCALES, ib), 7);
    const sc = y + 48 + <usize>(2 * (ib >> 2));
    st16(sc, <u32>load<u16>(sc) | (<u32>l << (3 * (ib & 3))));
    const k = ldb(GS_SHIFTS, ib);
    orb(y + 32, ib, k == 0 ? 0x00 : k == 1 ? 0x80 : k == 2 ? 0x08 : 0x88);
    const xb = x + (<usize>(16 * ib) << 2);
    iq1Weights(xb, 16, qw != 0 ? qw + (<usize>(16 * ib) << 2) : 0, sigma2);
    const qh = ldb(y + 32, ib);
    const mult = <f32>(l * 2 + 1);
    for (let g = 0; g < 2; g++) {
      const gi = ldb(y, 2 * ib + g) + ((qh << (8 - 4 * g)) & 0x700);
      iq1GroupSums(g, gi, iq1mNeg(k, g), mult, xb, IQ1_SUMS);
    }
  }
  const sumqx = ldf(IQ1_SUMS, 0);
  const sumq2 = ldf(IQ1_SUMS, 1);
  if (sumq2 > 0) d = sumqx / sumq2;
  const h = fp32ToFp16(d * <f32>1.1125);
  for (let i = 0; i < 4; i++) {
    const sc = y + 48 + <usize>(2 * i);
    st16(sc, <u32>load<u16>(sc) | (((h >> (4 * i)) & 0xf) << 12));
  }
}

/**
 * quantize_iq2_xxs / _xs / _s, quantize_iq3_xxs / _s, quantize_iq1_s / _m (types 16 17 22 18 21 19 29): every row's
 * super-blocks, the imatrix slice at the same column. The host has placed the type's grid. Returns 0, −1 for another
 * type, −2 when a neighbour search found no point or a group stayed off the grid (non-finite input), −3 when the
 * type needs an imatrix and has none.
 */
function quantizeGrid(type: i32, src: usize, nrows: i32, nPerRow: i32, imatrix: usize, dst: usize): i32 {
  let blockBytes: i32;
  let slot: i32;
  if (type == 16) { blockBytes = 66; slot = 0; }
  else if (type == 17) { blockBytes = 74; slot = 1; }
  else if (type == 22) { blockBytes = 82; slot = 2; }
  else if (type == 18) { blockBytes = 98; slot = 3; }
  else if (type == 21) { blockBytes = 110; slot = 4; }
  else if (type == 19) { blockBytes = 50; slot = 5; }
  else if (type == 29) { blockBytes = 56; slot = 5; }
  else return -1;
  if (imatrix == 0 && (type == 16 || type == 17 || type == 19)) return -3;
  useGrid(slot);
  store<i32>(GS_ERR, 0);
  const nbRow = nPerRow / QK_K;
  let y = dst;
  for (let r = 0; r < nrows; r++) {
    for (let i = 0; i < nbRow; i++) {
      const x = src + ((<usize>r * <usize>nPerRow + <usize>i * <usize>QK_K) << 2);
      const qw = imatrix != 0 ? imatrix + (<usize>(i * QK_K) << 2) : 0;
      if (type == 16) iq2XxsBlock(x, qw, y);
      else if (type == 17) iq2XsBlock(x, qw, y);
      else if (type == 22) iq2SBlock(x, qw, y);
      else if (type == 18) iq3XxsBlock(x, qw, y);
      else if (type == 21) iq3SBlock(x, qw, y);
      else if (type == 19) iq1sBlock(x, qw, y);
      else iq1mBlock(x, qw, y);
      y += <usize>blockBytes;
    }
  }
  return load<i32>(GS_ERR) != 0 ? -2 : 0;
}

// ---------------------------------------------------------------- IQ1_M split search

const IQ1M_T: usize = memory.data(3 * 16 * 32, 16); // [level][sorted j]: (w·q)·x then (w·q)·q, four sign patterns
const IQ1M_OUT: usize = memory.data(16, 16); // i1, i2, k (i32), scale (f32)

/**
 * Every split i1 ≤ i2 of the sorted 16-block (GS_XVAL, GS_W, GS_ORDER) into levels 0 / 1 / 2, with the four sign
 * patterns of the two 8-groups' deltas in the four lanes (lane k: first group uses x_p unless k ≥ 2, second unless
 * k is odd). C sums each lane's terms (w·q)·x and (w·q)·q over the sorted elements from 0 for every split; the terms
 * are precomputed per level, and the sum over j < i2 (level 0 below i1, 1 above) is carried from split to split,
 * which is the same sequence of additions. Then C's sequential choice over k, skipped when no lane beats the best.
 */
function iq1mSplitSearch(max: f32): void {
  const bs = 16;
  const first = i32x4(-1, -1, 0, 0); // lanes whose first group uses x_p
  const second = i32x4(-1, 0, -1, 0); // lanes whose second group uses x_p
  for (let j = 0; j < bs; j++) {
    const i = ldb(GS_ORDER, j);
    const w = f32x4.splat(ldf(GS_W, i));
    const x = f32x4.splat(ldf(GS_XVAL, i));
    for (let lv = 0; lv < 3; lv++) {
      const p: f32 = lv == 0 ? -0.875 : lv == 1 ? 0.125 : 1.125;
      const m: f32 = lv == 0 ? -1.125 : lv == 1 ? -0.125 : 0.875;
      const q = v128.bitselect(f32x4.splat(p), f32x4.splat(m), i < 8 ? first : second);
      const wq = f32x4.mul(w, q);
      const t = IQ1M_T + <usize>((lv * 16 + j) << 5);
      v128.store(t, f32x4.mul(wq, x));
      v128.store(t + 16, f32x4.mul(wq, q));
    }
  }
  const zero = f32x4.splat(0);
  let bestScore: f32 = -FLT_MAX;
  let scale = max;
  let besti1 = -1;
  let besti2 = -1;
  let bestK = -1;
  let p0qx = zero;
  let p0q2 = zero;
  for (let i1 = 0; i1 <= bs; i1++) {
    let aqx = p0qx;
    let aq2 = p0q2;
    for (let i2 = i1; i2 <= bs; i2++) {
      let sqx = aqx;
      let sq2 = aq2;
      for (let j = i2; j < bs; j++) {
        const t = IQ1M_T + <usize>((32 + j) << 5);
        sqx = f32x4.add(sqx, v128.load(t));
        sq2 = f32x4.add(sq2, v128.load(t + 16));
      }
      const ok = v128.and(f32x4.gt(sq2, zero), f32x4.gt(f32x4.mul(sqx, sqx), f32x4.mul(f32x4.splat(bestScore), sq2)));
      if (v128.any_true(ok)) {
        for (let k = 0; k < 4; k++) {
          const qx = k == 0 ? f32x4.extract_lane(sqx, 0) : k == 1 ? f32x4.extract_lane(sqx, 1) : k == 2 ? f32x4.extract_lane(sqx, 2) : f32x4.extract_lane(sqx, 3);
          const q2 = k == 0 ? f32x4.extract_lane(sq2, 0) : k == 1 ? f32x4.extract_lane(sq2, 1) : k == 2 ? f32x4.extract_lane(sq2, 2) : f32x4.extract_lane(sq2, 3);
          if (q2 > 0 && qx * qx > bestScore * q2) {
            scale = qx / q2;
            bestScore = scale * qx;
            besti1 = i1;
            besti2 = i2;
            bestK = k;
          }
        }
      }
      if (i2 < bs) {
        const t = IQ1M_T + <usize>((16 + i2) << 5);
        aqx = f32x4.add(aqx, v128.load(t));
        aq2 = f32x4.add(aq2, v128.load(t + 16));
      }
    }
    if (i1 < bs) {
      const t = IQ1M_T + <usize>(i1 << 5);
      p0qx = f32x4.add(p0qx, v128.load(t));
      p0q2 = f32x4.add(p0q2, v128.load(t + 16));
    }
  }
  store<i32>(IQ1M_OUT, besti1);
  store<i32>(IQ1M_OUT + 4, besti2);
  store<i32>(IQ1M_OUT + 8, bestK);
  store<f32>(IQ1M_OUT + 12, scale);
}
