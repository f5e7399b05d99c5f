// ggml's f32 activation math of the default numerics, bit for bit the same as the TypeScript in
// src/ops/ggml-attention-math.ts (ggmlExpfRow, ggmlSwiglu) and src/ops/attention.ts (softmaxRowGgml +
// softmaxExpGgml), two lanes at a time: ggml_v_expf's fused multiply-adds are emulated exactly as the TypeScript
// does — the product and sum in f64, then one rounding to f32 — so f64x2 arithmetic gives the same bits as the
// JavaScript doubles it replaces. Pointers are byte offsets into the shared memory.

const R: f64 = 12582912; // 0x1.8p23
const LOG2E: f64 = <f64>(<f32>1.4426950216293335); // 0x1.715476p+0
const LN2_HI: f64 = <f64>(<f32>0.693145751953125); // 0x1.62e4p-1
const LN2_LO: f64 = <f64>(<f32>1.428606765330187e-6); // 0x1.7f7d1cp-20
const C5: f64 = <f64>(<f32>0.008247390389442444); // 0x1.0e4020p-7
const C4: f64 = <f64>(<f32>0.04189976677298546); // 0x1.573e2ep-5
const C3: f64 = <f64>(<f32>0.16668395698070526); // 0x1.555e66p-3
const C2: f64 = <f64>(<f32>0.4999912679195404); // 0x1.fffdb6p-2
const C1: f64 = <f64>(<f32>0.9999994039535522); // 0x1.ffffecp-1

/** Math.fround on two f64 lanes. */
@inline function fr2(v: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(v));
}

/** f(a·b + c) on two lanes (the TypeScript's fma emulation: f64 product and sum, one rounding to f32). */
@inline function fma2(a: v128, b: v128, c: v128): v128 {
  return fr2(f64x2.add(f64x2.mul(a, b), c));
}

/**
 * ggml_v_expf of two f32 values held as f64 lanes, before its last rounding (j·2ⁿ, an exact f64): as `ggmlExpf`
 * (n = z − R is exact wherever it is used; |n| > 192 gives 0 or Infinity; NaN stays NaN).
 */
@inline function expf2(x: v128): v128 {
  const n = f64x2.sub(fma2(x, f64x2.splat(LOG2E), f64x2.splat(R)), f64x2.splat(R));
  const nn = f64x2.neg(n);
  const b = fma2(nn, f64x2.splat(LN2_LO), fma2(nn, f64x2.splat(LN2_HI), x));
  const u = fr2(f64x2.mul(b, b));
  const p = fma2(fma2(b, f64x2.splat(C5), f64x2.splat(C4)), u, fma2(b, f64x2.splat(C3), f64x2.splat(C2)));
  const j = fma2(p, u, fma2(b, f64x2.splat(C1), f64x2.splat(1)));
  // 2ⁿ from its exponent bits (n an integer in [−192, 192] here; other lanes are replaced below)
  const ni = i64x2.extend_low_i32x4_s(i32x4.max_s(i32x4.min_s(i32x4.trunc_sat_f64x2_s_zero(n), i32x4.splat(192)), i32x4.splat(-192)));
  const e = f64x2.mul(j, i64x2.shl(i64x2.add(ni, i64x2.splat(1023)), 52));
  const over = f64x2.gt(n, f64x2.splat(192));
  const under = f64x2.lt(n, f64x2.splat(-192));
  return v128.bitselect(f64x2.splat(0), v128.bitselect(f64x2.splat(Infinity), e, over), under);
}

/** Two f32 at p as f64 lanes. */
@inline function load2(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/** Stores two f64 lanes at p as f32 (each rounded once). */
@inline function store2(p: usize, v: v128): void {
  v128.store64_lane(p, f32x4.demote_f64x2_zero(v), 0);
}

/** gate[i] = f(gate[i] / f(1 + ggml_v_expf(−gate[i])))·up[i] in f32, i < n (ggml_vec_swiglu_f32, as `ggmlSwiglu`). */
export function swigluGgmlRow(gate: usize, up: usize, n: i32): void {
  const one = f64x2.splat(1);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const p = gate + (<usize>i << 2);
    const g = load2(p);
    const q = fr2(f64x2.div(g, fr2(f64x2.add(one, expf2(f64x2.neg(g))))));
    store2(p, f64x2.mul(q, load2(up + (<usize>i << 2))));
  }
  if (i < n) {
    const p = gate + (<usize>i << 2);
    const g = f64x2.splat(<f64>load<f32>(p));
    const q = fr2(f64x2.div(g, fr2(f64x2.add(one, expf2(f64x2.neg(g))))));
    store<f32>(p, <f32>f64x2.extract_lane(f64x2.mul(q, f64x2.splat(<f64>load<f32>(up + (<usize>i << 2)))), 0));
  }
}

/** Sums 16 f32 cells at p like GCC's `_mm512_reduce_add_ps` (as `reduceAdd16`). */
@inline function reduce16(p: usize): f32 {
  const a = f32x4.add(v128.load(p), v128.load(p + 32));
  const b = f32x4.add(v128.load(p + 16), v128.load(p + 48));
  const c = f32x4.add(a, b);
  return (f32x4.extract_lane(c, 0) + f32x4.extract_lane(c, 2)) + (f32x4.extract_lane(c, 1) + f32x4.extract_lane(c, 3));
}

/**
 * ggml's soft_max of score rows r0…r1−1 at `s` (rows of `lenP` f32 cells for absolute keys k0…), in place, as the
 * TypeScript `softmaxRow` with f16 rounding left to the caller: row r is the query at pos0 + (r mod nb), which sees
 * the keys from its chunk's start (`chunk` 0: from 0) to itself; x·scale in f32 and the max; e = ggml_v_expf(x − max);
 * the sum over chunks of 16 cells counted from absolute cell 0, each reduced as ggml's 16 lanes and added in f64;
 * e·(float)(1/sum) in f32; every other cell 0. `scaleBits`: the f32 scale's bits. `tmp`: 64 bytes of scratch.
 */
export function softmaxRowsGgml(s: usize, r0: i32, r1: i32, lenP: i32, nb: i32, pos0: i32, k0: i32, chunk: i32, scaleBits: i32, tmp: usize): void {
  const scale = reinterpret<f32>(scaleBits);
  for (let r = r0; r < r1; r++) {
    const o = s + (<usize>(r * lenP) << 2);
    const pos = pos0 + (r % nb);
    const lo = (chunk != 0 ? (pos / chunk) * chunk : 0) - k0;
    const hi = pos - k0; // inclusive
    let max: f32 = -Infinity;
    for (let j = lo; j <= hi; j++) {
      const v = load<f32>(o + (<usize>j << 2)) * scale;
      store<f32>(o + (<usize>j << 2), v);
      if (v > max) max = v;
    }
    const mx = f64x2.splat(<f64>max);
    let j = lo;
    for (; j + 2 <= hi + 1; j += 2) {
      const p = o + (<usize>j << 2);
      // f(x − max) in f32, then the exponential
      store2(p, expf2(fr2(f64x2.sub(load2(p), mx))));
    }
    if (j <= hi) {
      const p = o + (<usize>j << 2);
      store<f32>(p, <f32>f64x2.extract_lane(expf2(f64x2.splat(<f64>(load<f32>(p) - max))), 0));
    }
    let sum: f64 = 0;
    const a = k0 + lo;
    const end = k0 + hi + 1;
    for (let c0 = a - (a & 15); c0 < end; c0 += 16) {
      if (c0 >= a && c0 + 16 <= end) {
        sum += <f64>reduce16(o + (<usize>(c0 - k0) << 2));
        continue;
      }
      for (let c = 0; c < 16; c++) {
        const cell = c0 + c;
        store<f32>(tmp + (<usize>c << 2), cell >= a && cell < end ? load<f32>(o + (<usize>(cell - k0) << 2)) : 0);
      }
      sum += <f64>reduce16(tmp);
    }
    const inv = <f32>(1.0 / sum);
    for (let q = 0; q < lo; q++) store<f32>(o + (<usize>q << 2), 0);
    for (let q = lo; q <= hi; q++) store<f32>(o + (<usize>q << 2), load<f32>(o + (<usize>q << 2)) * inv);
    for (let q = hi + 1; q < lenP; q++) store<f32>(o + (<usize>q << 2), 0);
  }
}
