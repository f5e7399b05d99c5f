// AssemblyScript source of the integer block-dot kernel (compiled with gemm.ts by scripts/build-wasm.mjs).
// As ggml_vec_dot_*_q8_* does on CPU: a weight row in its ggml block type is decoded, a few rows at a time, into
// int8 values q, an integer scale sc and min mn per 16 elements, and per super-block (32 elements for the legacy
// types, 256 for the k-quants) a float scale D and min scale M: w = D·sc·q + M·mn. Activations arrive quantized to
// 8 bits (Q8_0 / Q8_K, the weight type's vec_dot_type): int8 xq, the scale xd per super-block and the integer sums
// xb per 16 elements. Per super-block b the integer part is exact,
//   out[t·ldo + r] += (D_b·xd_b)·Σ_g sc_g·(Σ q·xq) + (M_b·xd_b)·Σ_g mn_g·xb_g
// with the int8 products summed by i32x4.dot_i16x8_s; only the float accumulation over super-blocks differs from
// ggml's lane order, so this is the fast, not the bit-exact, path.
// The row decoders port ggml's dequantize_row_q4_0 … dequantize_row_q6_K (ggml-quants.c) to that split form.
// Pointers are byte offsets into the (shared) memory.

// ggml_type ids
const Q4_0: i32 = 2;
const Q4_1: i32 = 3;
const Q5_0: i32 = 6;
const Q5_1: i32 = 7;
const Q8_0: i32 = 8;
const Q2_K: i32 = 10;
const Q3_K: i32 = 11;
const Q4_K: i32 = 12;
const Q5_K: i32 = 13;
const Q6_K: i32 = 14;

/** Up to this many tokens, Q4_K/Q6_K rows are multiplied straight from their blocks instead of decoded first. */
const FUSED_MAX_TOK: i32 = 2;

/** Rows decoded per block (they stay in L1 while every activation row passes over them). */
const RB: i32 = 4;

@inline function h2f(h: u32): f32 {
  const sign: u32 = (h & 0x8000) << 16;
  const e: u32 = (h >> 10) & 0x1f;
  const mant: u32 = h & 0x3ff;
  if (e == 0) {
    const v: f32 = <f32>mant * 5.9604644775390625e-8; // 2^-24
    return sign ? -v : v;
  }
  if (e == 31) return reinterpret<f32>(sign | 0x7f800000 | (mant << 13));
  return reinterpret<f32>(sign | ((e + 112) << 23) | (mant << 13));
}

@inline function ldh(p: usize): f32 {
  return h2f(<u32>load<u16>(p));
}

/** Q4_K / Q5_K 6-bit scale and min of sub-block j (get_scale_min_k4). */
@inline function scaleK4(s: usize, j: i32): i32 {
  return j < 4 ? <i32>(load<u8>(s + j) & 63) : <i32>((load<u8>(s + j + 4) & 0xf) | ((load<u8>(s + j - 4) >> 6) << 4));
}
@inline function minK4(s: usize, j: i32): i32 {
  return j < 4 ? <i32>(load<u8>(s + j + 4) & 63) : <i32>((load<u8>(s + j + 4) >> 4) | ((load<u8>(s + j) >> 6) << 4));
}

/**
 * Q5_K's codes: the nibbles `q` with bit `bit` of the qh bytes `h` as their fifth bit (dequantize_row_q5_K); Q4_K's
 * (`five` false): the nibbles as they are.
 */
@inline function k4Codes(q: v128, h: v128, bit: i32, five: bool): v128 {
  return five ? v128.or(q, i8x16.shl(v128.and(i8x16.shr_u(h, bit), i8x16.splat(1)), 4)) : q;
}

/**
 * Q6_K's 6-bit codes k = 0…3 of 16 values (dequantize_row_q6_K): the low nibbles of `a` (k = 0) or `a2` (k = 1), or
 * their high nibbles (k = 2, 3), with bits 2k, 2k + 1 of the qh bytes `h` on top. Unsigned, 0…63.
 */
@inline function q6Codes(a: v128, a2: v128, h: v128, k: i32): v128 {
  const src = k & 1 ? a2 : a;
  const nib = k < 2 ? v128.and(src, i8x16.splat(0xf)) : i8x16.shr_u(src, 4);
  return v128.or(nib, i8x16.shl(v128.and(i8x16.shr_u(h, 2 * k), i8x16.splat(3)), 4));
}

/**
 * Decodes one row of `cols` elements at `src` into q (int8 per element), sc and mn (i32 per 16 elements), D and M
 * (f32 per super-block).
 */
function decodeRow(type: i32, src: usize, cols: i32, q: usize, sc: usize, mn: usize, D: usize, M: usize): void {
  if (type == Q8_0 || type == Q4_0 || type == Q4_1 || type == Q5_0 || type == Q5_1) {
    const nb = cols >> 5;
    const bytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : type == Q4_1 ? 20 : type == Q5_0 ? 22 : 24;
    for (let b = 0; b < nb; b++) {
      const o = src + <usize>b * bytes;
      const qo = q + (<usize>b << 5);
      let mv: f32 = 0;
      if (type == Q8_0) {
        v128.store(qo, v128.load(o + 2));
        v128.store(qo + 16, v128.load(o + 18));
      } else if (type == Q4_0 || type == Q4_1) {
        const qs = o + (type == Q4_0 ? 2 : 4);
        const off: i32 = type == Q4_0 ? 8 : 0;
        if (type == Q4_1) mv = ldh(o + 2);
        for (let j = 0; j < 16; j++) {
          const v = <i32>load<u8>(qs + j);
          store<i8>(qo + j, <i8>((v & 0xf) - off));
          store<i8>(qo + j + 16, <i8>((v >> 4) - off));
        }
      } else {
        const hb = o + (type == Q5_0 ? 2 : 4);
        const qh = load<u32>(hb);
        const qs = hb + 4;
        const off: i32 = type == Q5_0 ? 16 : 0;
        if (type == Q5_1) mv = ldh(o + 2);
        for (let j = 0; j < 16; j++) {
          const v = <i32>load<u8>(qs + j);
          const h0 = <i32>(((qh >> j) << 4) & 0x10);
          const h1 = <i32>((qh >> (j + 12)) & 0x10);
          store<i8>(qo + j, <i8>(((v & 0xf) | h0) - off));
          store<i8>(qo + j + 16, <i8>(((v >> 4) | h1) - off));
        }
      }
      const g = <usize>b << 3; // two groups × 4 bytes
      store<i32>(sc + g, 1);
      store<i32>(sc + g + 4, 1);
      store<i32>(mn + g, 1);
      store<i32>(mn + g + 4, 1);
      store<f32>(D + (<usize>b << 2), ldh(o));
      store<f32>(M + (<usize>b << 2), mv);
    }
    return;
  }
  const nb = cols >> 8;
  for (let b = 0; b < nb; b++) {
    const qo = q + (<usize>b << 8);
    const so = sc + (<usize>b << 6); // 16 groups × 4 bytes
    const mo = mn + (<usize>b << 6);
    const Db = D + (<usize>b << 2);
    const Mb = M + (<usize>b << 2);
    if (type == Q2_K) {
      const o = src + <usize>b * 84;
      store<f32>(Db, ldh(o + 80));
      store<f32>(Mb, -ldh(o + 82));
      for (let g = 0; g < 16; g++) {
        const v = <i32>load<u8>(o + g);
        store<i32>(so + (g << 2), v & 0xf);
        store<i32>(mo + (g << 2), v >> 4);
      }
      const m2 = i8x16.splat(3);
      for (let chunk = 0; chunk < 2; chunk++) {
        const qs = o + 16 + chunk * 32;
        const v0 = v128.load(qs);
        const v1 = v128.load(qs + 16);
        for (let j = 0; j < 4; j++) {
          const e = qo + chunk * 128 + j * 32;
          v128.store(e, v128.and(i8x16.shr_u(v0, 2 * j), m2));
          v128.store(e + 16, v128.and(i8x16.shr_u(v1, 2 * j), m2));
        }
      }
    } else if (type == Q3_K) {
      const o = src + <usize>b * 110;
      const hm = o;
      const qs = o + 32;
      const sb = o + 96;
      store<f32>(Db, ldh(o + 108));
      store<f32>(Mb, 0);
      for (let g = 0; g < 16; g++) {
        const low = g < 8 ? <i32>(load<u8>(sb + g) & 0xf) : <i32>(load<u8>(sb + g - 8) >> 4);
        const high = <i32>((load<u8>(sb + 8 + (g & 3)) >> (2 * (g >> 2))) & 3);
        store<i32>(so + (g << 2), (low | (high << 4)) - 32);
        store<i32>(mo + (g << 2), 0);
      }
      const m2 = i8x16.splat(3);
      const four = i8x16.splat(4);
      const zero = i8x16.splat(0);
      for (let chunk = 0; chunk < 2; chunk++) {
        for (let j = 0; j < 4; j++) {
          const mask = i8x16.splat(<i8>(<i32>1 << (chunk * 4 + j)));
          const e = qo + chunk * 128 + j * 32;
          for (let c = 0; c < 2; c++) {
            const lo = v128.and(i8x16.shr_u(v128.load(qs + chunk * 32 + c * 16), 2 * j), m2);
            // minus 4 where the high bit is clear
            const clear = i8x16.eq(v128.and(v128.load(hm + c * 16), mask), zero);
            v128.store(e + c * 16, i8x16.sub(lo, v128.and(clear, four)));
          }
        }
      }
    } else if (type == Q4_K || type == Q5_K) {
      const five = type == Q5_K;
      const o = src + <usize>b * (five ? 176 : 144);
      store<f32>(Db, ldh(o));
      store<f32>(Mb, -ldh(o + 2));
      const sb = o + 4;
      const qh = o + 16;
      const qs = o + (five ? 48 : 16);
      for (let j = 0; j < 8; j++) {
        const s6 = scaleK4(sb, j);
        const m6 = minK4(sb, j);
        store<i32>(so + (j << 3), s6);
        store<i32>(so + (j << 3) + 4, s6);
        store<i32>(mo + (j << 3), m6);
        store<i32>(mo + (j << 3) + 4, m6);
      }
      const m4 = i8x16.splat(0xf);
      const one = i8x16.splat(1);
      for (let j = 0; j < 4; j++) {
        const e = qo + j * 64;
        for (let c = 0; c < 2; c++) {
          const v = v128.load(qs + j * 32 + c * 16);
          // bit 2j of qh[l] is the fifth bit of the low nibble, bit 2j+1 of the high one
          const h = five ? v128.load(qh + c * 16) : i8x16.splat(0);
          v128.store(e + c * 16, k4Codes(v128.and(v, m4), h, 2 * j, five));
          v128.store(e + 32 + c * 16, k4Codes(i8x16.shr_u(v, 4), h, 2 * j + 1, five));
        }
      }
    } else {
      // Q6_K
      const o = src + <usize>b * 210;
      store<f32>(Db, ldh(o + 208));
      store<f32>(Mb, 0);
      for (let g = 0; g < 16; g++) {
        store<i32>(so + (g << 2), <i32>load<i8>(o + 192 + g));
        store<i32>(mo + (g << 2), 0);
      }
      for (let half = 0; half < 2; half++) {
        const ql = o + half * 64;
        const qh = o + 128 + half * 32;
        const e = qo + half * 128;
        for (let c = 0; c < 2; c++) {
          const h = v128.load(qh + c * 16);
          const a = v128.load(ql + c * 16);
          const b2 = v128.load(ql + 32 + c * 16);
          // unsigned 0..63: ggml's AVX2 kernel subtracts 32·Σ scale·bsum per lane instead
          v128.store(e + c * 16, q6Codes(a, b2, h, 0));
          v128.store(e + 32 + c * 16, q6Codes(a, b2, h, 1));
          v128.store(e + 64 + c * 16, q6Codes(a, b2, h, 2));
          v128.store(e + 96 + c * 16, q6Codes(a, b2, h, 3));
        }
      }
    }
  }
}

@inline function dot16(w: v128, x: v128): v128 {
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), i16x8.extend_low_i8x16_s(x)),
    i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), i16x8.extend_high_i8x16_s(x)),
  );
}

@inline function hsum(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
}

/** Σ_b (M_b·xd_b)·Σ_g mn_g·xb_g over the row's super-blocks of `gps` groups. */
@inline function minTerm(mn: usize, M: usize, xb: usize, xd: usize, nSB: i32, gps: i32): f32 {
  let r: f32 = 0;
  for (let b = 0; b < nSB; b++) {
    const g0 = <usize>(b * gps) << 2;
    let isum: i32;
    if (gps == 2) isum = load<i32>(mn + g0) * load<i32>(xb + g0) + load<i32>(mn + g0 + 4) * load<i32>(xb + g0 + 4);
    else {
      let acc = i32x4.splat(0);
      for (let g = 0; g < gps; g += 4) acc = i32x4.add(acc, i32x4.mul(v128.load(mn + g0 + (<usize>g << 2)), v128.load(xb + g0 + (<usize>g << 2))));
      isum = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    }
    r += load<f32>(M + (<usize>b << 2)) * load<f32>(xd + (<usize>b << 2)) * <f32>isum;
  }
  return r;
}

/** Σ_b (D_b·xd_b)·Σ_g sc_g·(Σ q·xq) for one weight row and one activation row. */
@inline function rowDot(qw: usize, sc: usize, D: usize, x: usize, xd: usize, nSB: i32, gps: i32): f32 {
  let acc = f32x4.splat(0);
  for (let b = 0; b < nSB; b++) {
    let isum = i32x4.splat(0);
    const g0 = b * gps;
    for (let g = g0; g < g0 + gps; g++) {
      const o = <usize>g << 4;
      isum = i32x4.add(isum, i32x4.mul(dot16(v128.load(qw + o), v128.load(x + o)), i32x4.splat(load<i32>(sc + (<usize>g << 2)))));
    }
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.splat(load<f32>(D + (<usize>b << 2)) * load<f32>(xd + (<usize>b << 2)))));
  }
  return hsum(acc);
}

/** Four lanes of fma(d, v, acc) rounded once to f32 (d·v is exact in f64 for the operands used here), as `fmaf`. */
@inline function fmaf4(d: f32, v: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(f32x4.splat(d), v, acc);
  const dd = f64x2.splat(<f64>d);
  const lo = f64x2.add(f64x2.mul(dd, f64x2.promote_low_f32x4(v)), f64x2.promote_low_f32x4(acc));
  const hi = f64x2.add(f64x2.mul(dd, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3))), f64x2.promote_low_f32x4(i32x4.shuffle(acc, acc, 2, 3, 2, 3)));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** [a0+a1, a2+a3, b0+b1, b2+b3] for int32 lanes a, b. */
@inline function pairSums(a: v128, b: v128): v128 {
  return i32x4.add(i32x4.shuffle(a, b, 0, 2, 4, 6), i32x4.shuffle(a, b, 1, 3, 5, 7));
}

/**
 * One weight row · one activation row in the order of ggml's x86 AVX2 kernels (`ggml_vec_dot_q8_0_q8_0`,
 * `ggml_vec_dot_q{2,3,4,6}_K_q8_K`), which is bit-identical to them: per super-block eight int32 lanes (lane k takes
 * the elements whose index mod 32 is in [4k, 4k+4)) times the sub-block scales, converted to f32 and
 * fused-multiply-added with d = xd·D into eight f32 accumulators; Q2_K fma's its mins into the same accumulators
 * first, Q4_K into four more, Q6_K subtracts 32·Σ scale·bsum per lane; then `hsum_float_8`.
 * The same algorithm as `ops/ggml-q8-0-dot.ts` / `ops/ggml-kquant-dot.ts`, which are tested against libggml-cpu.
 * The eight accumulators live in two f32x4 (lanes 0-3, 4-7) and the four Q4_K min accumulators in one; each lane's
 * fma is the scalar one (`fmaf4`), so vectorizing changes no bit.
 */
function rowDotLanes(type: i32, sq: usize, sc: usize, mn: usize, D: usize, M: usize, x: usize, xd: usize, xb: usize, nSB: i32): f32 {
  let A = f32x4.splat(0);
  let B = f32x4.splat(0);
  let Mn = f32x4.splat(0);
  const blockBytes: usize = type == Q8_0 ? 64 : 512; // i16 elements of one super-block
  const groups = type == Q8_0 ? 1 : 8;
  for (let b = 0; b < nSB; b++) {
    const o = <usize>b * blockBytes;
    // pair sums of elements 0-7, 8-15, 16-23, 24-31 of every 32, accumulated over the super-block's 32-groups
    let p0 = i32x4.splat(0);
    let p1 = i32x4.splat(0);
    let p2 = i32x4.splat(0);
    let p3 = i32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      const e = o + (<usize>g << 6);
      p0 = i32x4.add(p0, i32x4.dot_i16x8_s(v128.load(sq + e), v128.load(x + e)));
      p1 = i32x4.add(p1, i32x4.dot_i16x8_s(v128.load(sq + e + 16), v128.load(x + e + 16)));
      p2 = i32x4.add(p2, i32x4.dot_i16x8_s(v128.load(sq + e + 32), v128.load(x + e + 32)));
      p3 = i32x4.add(p3, i32x4.dot_i16x8_s(v128.load(sq + e + 48), v128.load(x + e + 48)));
    }
    // lane k = the four products 4k..4k+3 of each 32 (ggml's maddubs + madd lanes)
    let la = pairSums(p0, p1);
    let lb = pairSums(p2, p3);
    const yd = load<f32>(xd + (<usize>b << 2));
    const d = yd * load<f32>(D + (<usize>b << 2));
    if (type != Q8_0) {
      const mo = mn + (<usize>b << 6);
      const bo = xb + (<usize>b << 6);
      const so = sc + (<usize>b << 6);
      if (type == Q2_K || type == Q4_K) {
        const dmin = yd * load<f32>(M + (<usize>b << 2));
        const P0 = i32x4.mul(v128.load(mo), v128.load(bo));
        const P1 = i32x4.mul(v128.load(mo + 16), v128.load(bo + 16));
        const P2 = i32x4.mul(v128.load(mo + 32), v128.load(bo + 32));
        const P3 = i32x4.mul(v128.load(mo + 48), v128.load(bo + 48));
        if (type == Q2_K) {
          // lane k: mins of groups 2k, 2k+1 times their bsums
          A = fmaf4(dmin, f32x4.convert_i32x4_s(pairSums(P0, P1)), A);
          B = fmaf4(dmin, f32x4.convert_i32x4_s(pairSums(P2, P3)), B);
        } else {
          // accumulator k: the 32-sub-blocks 2k, 2k+1 (groups 4k…4k+3), min (stored per 16) times bsum
          Mn = fmaf4(dmin, f32x4.convert_i32x4_s(pairSums(pairSums(P0, P1), pairSums(P2, P3))), Mn);
        }
      } else if (type == Q6_K) {
        // lane k −= 32·(sc[2k]·bsum[2k] + sc[2k+1]·bsum[2k+1])
        const c0 = pairSums(i32x4.mul(v128.load(so), v128.load(bo)), i32x4.mul(v128.load(so + 16), v128.load(bo + 16)));
        const c1 = pairSums(i32x4.mul(v128.load(so + 32), v128.load(bo + 32)), i32x4.mul(v128.load(so + 48), v128.load(bo + 48)));
        la = i32x4.sub(la, i32x4.shl(c0, 5));
        lb = i32x4.sub(lb, i32x4.shl(c1, 5));
      }
    }
    A = fmaf4(d, f32x4.convert_i32x4_s(la), A);
    B = fmaf4(d, f32x4.convert_i32x4_s(lb), B);
  }
  // hsum_float_8: 128-bit halves added, then movehl, then movehdup
  const S = f32x4.add(A, B);
  let y = (f32x4.extract_lane(S, 0) + f32x4.extract_lane(S, 2)) + (f32x4.extract_lane(S, 1) + f32x4.extract_lane(S, 3));
  if (type == Q4_K) y += (f32x4.extract_lane(Mn, 0) + f32x4.extract_lane(Mn, 2)) + (f32x4.extract_lane(Mn, 1) + f32x4.extract_lane(Mn, 3));
  return y;
}

/** Bytes per activation value the one-token k-quant rows read: the relaxed build's int8 codes, the baseline's int16. */
const XB: usize = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;

/**
 * Σ over 16 products of unsigned codes `q` (below 128) and the activations at `x`, in four int32 lanes (lane k: the
 * products 4k…4k+3), each times the int16 scale `s` — ggml's maddubs + madd on one 128-bit half. The relaxed build
 * takes the pair sums from one `i16x8.relaxed_dot_i8x16_i7x16_s` over the int8 activations (x86 pmaddubsw;
 * deterministic because every code is below 128, and no pair sum of 2·128·63 can saturate int16); the baseline widens
 * the codes, scales them and dots them with the int16 activations. The same integers either way.
 */
@inline function codeDot16(x: usize, q: v128, s: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), q), s);
  return pairSums(i32x4.dot_i16x8_s(i16x8.mul(i16x8.extend_low_i8x16_u(q), s), v128.load(x)), i32x4.dot_i16x8_s(i16x8.mul(i16x8.extend_high_i8x16_u(q), s), v128.load(x + 16)));
}

/**
 * One Q4_K row (144-byte blocks at `wr`) · one token: the lanes, mins and fma order of `rowDotLanes` (so the same
 * bits), computed straight from the blocks for few tokens, where decoding the row into scratch first costs as much as
 * the dot products. Scales and mins unpacked as ggml's utmp/kmask. The baseline build widens the nibbles to int16
 * and scales them in registers (`x`: int16 activations); the relaxed build multiplies the nibbles by the int8
 * activations (`x`: the Q8_K codes) with `codeDot16` — the same integer lane sums, half the instructions per product.
 */
function q4kRowLanes(wr: usize, x: usize, xd: usize, xb: usize, nSB: i32): f32 {
  let A = f32x4.splat(0);
  let B = f32x4.splat(0);
  let Mn = f32x4.splat(0);
  const m4 = i8x16.splat(0xf);
  for (let b = 0; b < nSB; b++) {
    const o = wr + <usize>b * 144;
    const u0 = load<u32>(o + 4);
    const u1 = load<u32>(o + 8);
    const u2 = load<u32>(o + 12);
    // get_scale_min_k4 for sub-blocks 0…7, one byte each
    const S = <u64>(u0 & 0x3f3f3f3f) | (<u64>((u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4)) << 32);
    const mLo = u1 & 0x3f3f3f3f;
    const mHi = ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
    const xe = x + (<usize>b << 8) * XB;
    // la: elements 0-15 of every 32-sub-block (lanes = ggml's lanes 0-3), lb: elements 16-31 (lanes 4-7)
    let la = i32x4.splat(0);
    let lb = i32x4.splat(0);
    for (let j = 0; j < 4; j++) {
      const q = o + 16 + (<usize>j << 5);
      const v0 = v128.load(q);
      const v1 = v128.load(q + 16);
      const sa = i16x8.splat(<i16>(<u32>(S >> (<u64>(16 * j))) & 0xff));
      const sb = i16x8.splat(<i16>(<u32>(S >> (<u64>(16 * j + 8))) & 0xff));
      const e = xe + (<usize>j << 6) * XB;
      la = i32x4.add(la, codeDot16(e, v128.and(v0, m4), sa));
      lb = i32x4.add(lb, codeDot16(e + 16 * XB, v128.and(v1, m4), sa));
      la = i32x4.add(la, codeDot16(e + 32 * XB, i8x16.shr_u(v0, 4), sb));
      lb = i32x4.add(lb, codeDot16(e + 48 * XB, i8x16.shr_u(v1, 4), sb));
    }
    const yd = load<f32>(xd + (<usize>b << 2));
    const d = yd * ldh(o);
    const dmin = yd * -ldh(o + 2);
    const bo = xb + (<usize>b << 6);
    const mins03 = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(mLo)));
    const mins47 = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(mHi)));
    // bsum of each 32-sub-block, times its min, two sub-blocks per accumulator
    const s03 = pairSums(v128.load(bo), v128.load(bo + 16));
    const s47 = pairSums(v128.load(bo + 32), v128.load(bo + 48));
    Mn = fmaf4(dmin, f32x4.convert_i32x4_s(pairSums(i32x4.mul(mins03, s03), i32x4.mul(mins47, s47))), Mn);
    A = fmaf4(d, f32x4.convert_i32x4_s(la), A);
    B = fmaf4(d, f32x4.convert_i32x4_s(lb), B);
  }
  const T = f32x4.add(A, B);
  const y = (f32x4.extract_lane(T, 0) + f32x4.extract_lane(T, 2)) + (f32x4.extract_lane(T, 1) + f32x4.extract_lane(T, 3));
  return y + ((f32x4.extract_lane(Mn, 0) + f32x4.extract_lane(Mn, 2)) + (f32x4.extract_lane(Mn, 1) + f32x4.extract_lane(Mn, 3)));
}

/**
 * One Q6_K row (210-byte blocks at `wr`) · one token, as `q4kRowLanes`: the bits of `rowDotLanes`, from the blocks
 * (relaxed build: the unsigned 6-bit codes times the int8 activations, the −32 offset from the bsums as before).
 */
function q6kRowLanes(wr: usize, x: usize, xd: usize, xb: usize, nSB: i32): f32 {
  let A = f32x4.splat(0);
  let B = f32x4.splat(0);
  for (let b = 0; b < nSB; b++) {
    const o = wr + <usize>b * 210;
    const xe = x + (<usize>b << 8) * XB;
    // la: elements 0-15 of every 32 (ggml's lanes 0-3), lb: elements 16-31 (lanes 4-7)
    let la = i32x4.splat(0);
    let lb = i32x4.splat(0);
    for (let half = 0; half < 2; half++) {
      const ql = o + (<usize>half << 6);
      const qh = o + 128 + (<usize>half << 5);
      const g = o + 192 + (<usize>half << 3);
      for (let c = 0; c < 2; c++) {
        const h = v128.load(qh + (<usize>c << 4));
        const a = v128.load(ql + (<usize>c << 4));
        const a2 = v128.load(ql + 32 + (<usize>c << 4));
        // elements 128·half + 16c and 32, 64, 96 later
        const ec = xe + (<usize>((half << 7) + (c << 4))) * XB;
        const q0 = q6Codes(a, a2, h, 0);
        const q1 = q6Codes(a, a2, h, 1);
        const q2 = q6Codes(a, a2, h, 2);
        const q3 = q6Codes(a, a2, h, 3);
        const sum = i32x4.add(
          i32x4.add(codeDot16(ec, q0, i16x8.splat(<i16>load<i8>(g + c))), codeDot16(ec + 32 * XB, q1, i16x8.splat(<i16>load<i8>(g + 2 + c)))),
          i32x4.add(codeDot16(ec + 64 * XB, q2, i16x8.splat(<i16>load<i8>(g + 4 + c))), codeDot16(ec + 96 * XB, q3, i16x8.splat(<i16>load<i8>(g + 6 + c)))),
        );
        if (c == 0) la = i32x4.add(la, sum);
        else lb = i32x4.add(lb, sum);
      }
    }
    // lane k −= 32·(sc[2k]·bsum[2k] + sc[2k+1]·bsum[2k+1])
    const bo = xb + (<usize>b << 6);
    const scv = v128.load(o + 192);
    const sLo = i16x8.extend_low_i8x16_s(scv);
    const sHi = i16x8.extend_high_i8x16_s(scv);
    const c0 = pairSums(i32x4.mul(i32x4.extend_low_i16x8_s(sLo), v128.load(bo)), i32x4.mul(i32x4.extend_high_i16x8_s(sLo), v128.load(bo + 16)));
    const c1 = pairSums(i32x4.mul(i32x4.extend_low_i16x8_s(sHi), v128.load(bo + 32)), i32x4.mul(i32x4.extend_high_i16x8_s(sHi), v128.load(bo + 48)));
    const d = load<f32>(xd + (<usize>b << 2)) * ldh(o + 208);
    A = fmaf4(d, f32x4.convert_i32x4_s(i32x4.sub(la, i32x4.shl(c0, 5))), A);
    B = fmaf4(d, f32x4.convert_i32x4_s(i32x4.sub(lb, i32x4.shl(c1, 5))), B);
  }
  const T = f32x4.add(A, B);
  return (f32x4.extract_lane(T, 0) + f32x4.extract_lane(T, 2)) + (f32x4.extract_lane(T, 1) + f32x4.extract_lane(T, 3));
}

/** sq[e] = sc[e / 16]·q[e] as int16 (the lane-order kernel's weights; |sc·q| ≤ 127·63 fits). */
function scaleRow(q: usize, sc: usize, cols: i32, sq: usize): void {
  for (let g = 0; g < cols >> 4; g++) {
    const v = v128.load(q + (<usize>g << 4));
    const s = i16x8.splat(<i16>load<i32>(sc + (<usize>g << 2)));
    v128.store(sq + (<usize>g << 5), i16x8.mul(i16x8.extend_low_i8x16_s(v), s));
    v128.store(sq + (<usize>g << 5) + 16, i16x8.mul(i16x8.extend_high_i8x16_s(v), s));
  }
}

/** Σ over one row's Q8_0 blocks at `wb` (34 bytes each; codes at +2 read as they are) · widened activations x16. */
@inline function q8Row(wb: usize, nb: i32, x16: usize, xd: usize): f32 {
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const o = wb + <usize>b * 34;
    const xo = x16 + (<usize>b << 6);
    const w0 = v128.load(o + 2);
    const w1 = v128.load(o + 18);
    let s = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), v128.load(xo));
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), v128.load(xo + 16)));
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), v128.load(xo + 32)));
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), v128.load(xo + 48)));
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(ldh(o) * load<f32>(xd + (<usize>b << 2)))));
  }
  return hsum(acc);
}

/**
 * Q8_0 weights × Q8_0 activations in the default (not lane-exact) order, straight from the file's blocks: per
 * 32-block an int32x4 of products (lane k: elements 2k, 2k+1, 8+2k, 9+2k and the same 16 later), scaled by
 * fp16(D)·xd and added in four f32 lanes, then summed — the same bits as `rowDot` over a decoded row. With two
 * tokens, four rows at a time are widened once to int16 in `scratch` (with their block scales) and every token
 * passes over them, each activation load feeding four rows (more tokens take `tiledMatmul`).
 */
function q8mm(w: usize, rowBytes: i32, cols: i32, r0: i32, r1: i32, x16: usize, xd: usize, nTok: i32, out: usize, ldo: i32, scratch: usize): void {
  const nb = cols >> 5;
  const wideBytes = <usize>cols << 1;
  const dBuf = scratch + 4 * wideBytes;
  let r = r0;
  if (nTok > 1) {
    for (; r + 4 <= r1; r += 4) {
      for (let i = 0; i < 4; i++) {
        const src = w + <usize>(r + i) * rowBytes;
        const dst = scratch + <usize>i * wideBytes;
        const di = dBuf + (<usize>(i * nb) << 2);
        for (let b = 0; b < nb; b++) {
          const o = src + <usize>b * 34;
          const e = dst + (<usize>b << 6);
          const v0 = v128.load(o + 2);
          const v1 = v128.load(o + 18);
          v128.store(e, i16x8.extend_low_i8x16_s(v0));
          v128.store(e + 16, i16x8.extend_high_i8x16_s(v0));
          v128.store(e + 32, i16x8.extend_low_i8x16_s(v1));
          v128.store(e + 48, i16x8.extend_high_i8x16_s(v1));
          store<f32>(di + (<usize>b << 2), ldh(o));
        }
      }
      const q0 = scratch;
      const q1 = q0 + wideBytes;
      const q2 = q1 + wideBytes;
      const q3 = q2 + wideBytes;
      const d0 = dBuf;
      const d1 = d0 + (<usize>nb << 2);
      const d2 = d1 + (<usize>nb << 2);
      const d3 = d2 + (<usize>nb << 2);
      for (let t = 0; t < nTok; t++) {
        const xt = x16 + <usize>t * wideBytes;
        const xdt = xd + (<usize>(t * nb) << 2);
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        for (let b = 0; b < nb; b++) {
          const e = <usize>b << 6;
          const xa = v128.load(xt + e);
          const xb = v128.load(xt + e + 16);
          const xc = v128.load(xt + e + 32);
          const xe = v128.load(xt + e + 48);
          const s0 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(v128.load(q0 + e), xa), i32x4.dot_i16x8_s(v128.load(q0 + e + 16), xb)), i32x4.add(i32x4.dot_i16x8_s(v128.load(q0 + e + 32), xc), i32x4.dot_i16x8_s(v128.load(q0 + e + 48), xe)));
          const s1 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(v128.load(q1 + e), xa), i32x4.dot_i16x8_s(v128.load(q1 + e + 16), xb)), i32x4.add(i32x4.dot_i16x8_s(v128.load(q1 + e + 32), xc), i32x4.dot_i16x8_s(v128.load(q1 + e + 48), xe)));
          const s2 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(v128.load(q2 + e), xa), i32x4.dot_i16x8_s(v128.load(q2 + e + 16), xb)), i32x4.add(i32x4.dot_i16x8_s(v128.load(q2 + e + 32), xc), i32x4.dot_i16x8_s(v128.load(q2 + e + 48), xe)));
          const s3 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(v128.load(q3 + e), xa), i32x4.dot_i16x8_s(v128.load(q3 + e + 16), xb)), i32x4.add(i32x4.dot_i16x8_s(v128.load(q3 + e + 32), xc), i32x4.dot_i16x8_s(v128.load(q3 + e + 48), xe)));
          const xs = load<f32>(xdt + (<usize>b << 2));
          const bo = <usize>b << 2;
          a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(s0), f32x4.splat(load<f32>(d0 + bo) * xs)));
          a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_s(s1), f32x4.splat(load<f32>(d1 + bo) * xs)));
          a2 = f32x4.add(a2, f32x4.mul(f32x4.convert_i32x4_s(s2), f32x4.splat(load<f32>(d2 + bo) * xs)));
          a3 = f32x4.add(a3, f32x4.mul(f32x4.convert_i32x4_s(s3), f32x4.splat(load<f32>(d3 + bo) * xs)));
        }
        const o = out + ((<usize>t * ldo + r) << 2);
        store<f32>(o, hsum(a0));
        store<f32>(o + 4, hsum(a1));
        store<f32>(o + 8, hsum(a2));
        store<f32>(o + 12, hsum(a3));
      }
    }
  }
  for (; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    for (let t = 0; t < nTok; t++) {
      store<f32>(out + ((<usize>t * ldo + r) << 2), q8Row(wr, nb, x16 + <usize>t * wideBytes, xd + (<usize>(t * nb) << 2)));
    }
  }
}

/** Rows of one prompt tile: four weight rows decoded once, each activation vector loaded once for all four. */
const TR: i32 = 4;

/** Whether the default numerics take the tiled prompt kernel for this type and token count. */
@inline function tiled(type: i32, nTok: i32, exact: i32): bool {
  return exact == 0 && nTok > FUSED_MAX_TOK && (type == Q8_0 || type == Q4_0 || type == Q4_1 || type == Q5_0 || type == Q5_1 || type == Q4_K || type == Q5_K || type == Q6_K);
}

/**
 * Decodes rows [r, r + nr) (nr ≤ 4; the missing ones as zeros) into the tiled form `tiledMatmul` reads: per 8
 * values k, the four rows' int16 products sc·q side by side at `tq + (4k + i)·16`; for Q4_K/Q5_K per super-block
 * and row the eight 6-bit sub-block mins as int16 (`tmn + (4b + i)·16`); per super-block the four rows' D and M
 * (`tD`, `tM`, one f32x4 each; the legacy types' integer min is 1, M carries it all). Q6_K's
 * codes are re-centred to q − 32 as in dequantize_row_q6_K (|sc·(q − 32)| ≤ 4096 fits int16), so only the types
 * with a min need a second term. q, sc, mn, D, M: one row's `decodeRow` scratch.
 */
function decodeTile(type: i32, w: usize, rowBytes: i32, cols: i32, r: i32, nr: i32, tq: usize, tmn: usize, tD: usize, tM: usize, q: usize, sc: usize, mn: usize, D: usize, M: usize): void {
  const G = cols >> 4;
  const nSB = type >= Q2_K ? cols >> 8 : cols >> 5;
  const c32 = i16x8.splat(type == Q6_K ? 32 : 0);
  for (let i = 0; i < TR; i++) {
    const lane = <usize>i << 2;
    if (i >= nr) {
      for (let k = 0; k < cols >> 3; k++) v128.store(tq + (<usize>(k * TR + i) << 4), i16x8.splat(0));
      for (let b = 0; b < nSB; b++) {
        if (type == Q4_K || type == Q5_K) v128.store(tmn + (<usize>(b * TR + i) << 4), i16x8.splat(0));
        store<f32>(tD + (<usize>b << 4) + lane, 0);
        store<f32>(tM + (<usize>b << 4) + lane, 0);
      }
      continue;
    }
    if (type == Q4_K || type == Q5_K) {
      decodeTileK4(type == Q5_K, w + <usize>(r + i) * rowBytes, nSB, i, tq, tmn, tD, tM);
      continue;
    }
    if (type == Q6_K) {
      decodeTileQ6K(w + <usize>(r + i) * rowBytes, nSB, i, tq, tD, tM);
      continue;
    }
    if (type == Q8_0) {
      // the codes widened as they are, d per 32 (as q8mm)
      const src = w + <usize>(r + i) * rowBytes;
      for (let b = 0; b < nSB; b++) {
        const o = src + <usize>b * 34;
        const v0 = v128.load(o + 2);
        const v1 = v128.load(o + 18);
        const e = tq + (<usize>(b * 4 * TR + i) << 4);
        v128.store(e, i16x8.extend_low_i8x16_s(v0));
        v128.store(e + (TR << 4), i16x8.extend_high_i8x16_s(v0));
        v128.store(e + (2 * TR << 4), i16x8.extend_low_i8x16_s(v1));
        v128.store(e + (3 * TR << 4), i16x8.extend_high_i8x16_s(v1));
        store<f32>(tD + (<usize>b << 4) + lane, ldh(o));
        store<f32>(tM + (<usize>b << 4) + lane, 0);
      }
      continue;
    }
    decodeRow(type, w + <usize>(r + i) * rowBytes, cols, q, sc, mn, D, M);
    for (let g = 0; g < G; g++) {
      const v = v128.load(q + (<usize>g << 4));
      const s = i16x8.splat(<i16>load<i32>(sc + (<usize>g << 2)));
      v128.store(tq + (<usize>(2 * g * TR + i) << 4), i16x8.mul(i16x8.sub(i16x8.extend_low_i8x16_s(v), c32), s));
      v128.store(tq + (<usize>((2 * g + 1) * TR + i) << 4), i16x8.mul(i16x8.sub(i16x8.extend_high_i8x16_s(v), c32), s));
    }
    for (let b = 0; b < nSB; b++) {
      // the mins are per 32 values (stored per 16 group by decodeRow): groups 2j
      if (type == Q4_K || type == Q5_K) for (let j = 0; j < 8; j++) store<i16>(tmn + (<usize>(b * TR + i) << 4) + (<usize>j << 1), <i16>load<i32>(mn + (<usize>(16 * b + 2 * j) << 2)));
      store<f32>(tD + (<usize>b << 4) + lane, load<f32>(D + (<usize>b << 2)));
      store<f32>(tM + (<usize>b << 4) + lane, type == Q6_K ? 0 : load<f32>(M + (<usize>b << 2)));
    }
  }
}

/**
 * Row i of a Q4_K / Q5_K tile straight from its blocks (what `decodeRow` + `decodeTile` would store, without the
 * int8 pass): per sub-block of 32 the nibbles (Q5_K: plus the fifth bit from qh, as dequantize_row_q5_K) widened
 * to int16 and multiplied by the 6-bit scale, the 6-bit mins as int16, d and −dmin.
 */
function decodeTileK4(five: bool, src: usize, nSB: i32, i: i32, tq: usize, tmn: usize, tD: usize, tM: usize): void {
  const m4 = i8x16.splat(0xf);
  const lane = <usize>i << 2;
  for (let b = 0; b < nSB; b++) {
    const o = src + <usize>b * (five ? 176 : 144);
    store<f32>(tD + (<usize>b << 4) + lane, ldh(o));
    store<f32>(tM + (<usize>b << 4) + lane, -ldh(o + 2));
    const sb = o + 4;
    const qh = o + 16;
    const qs = o + (five ? 48 : 16);
    const mo = tmn + (<usize>(b * TR + i) << 4);
    for (let j = 0; j < 8; j++) store<i16>(mo + (<usize>j << 1), <i16>minK4(sb, j));
    for (let j = 0; j < 4; j++) {
      const sLo = i16x8.splat(<i16>scaleK4(sb, 2 * j));
      const sHi = i16x8.splat(<i16>scaleK4(sb, 2 * j + 1));
      for (let c = 0; c < 2; c++) {
        const v = v128.load(qs + j * 32 + c * 16);
        const h = five ? v128.load(qh + c * 16) : i8x16.splat(0);
        const lo = k4Codes(v128.and(v, m4), h, 2 * j, five);
        const hi = k4Codes(i8x16.shr_u(v, 4), h, 2 * j + 1, five);
        // 8-value chunk of element b·256 + 64j + 16c (low nibbles) and 32 elements later (high nibbles)
        const e = tq + (<usize>((b * 32 + j * 8 + c * 2) * TR + i) << 4);
        v128.store(e, i16x8.mul(i16x8.extend_low_i8x16_u(lo), sLo));
        v128.store(e + (TR << 4), i16x8.mul(i16x8.extend_high_i8x16_u(lo), sLo));
        v128.store(e + (4 * TR << 4), i16x8.mul(i16x8.extend_low_i8x16_u(hi), sHi));
        v128.store(e + (5 * TR << 4), i16x8.mul(i16x8.extend_high_i8x16_u(hi), sHi));
      }
    }
  }
}

/** Stores sc·(u − 32) for 16 unsigned 6-bit codes u as two int16 chunks of row i's tile at chunk `k`. */
@inline function storeQ6(tq: usize, k: i32, i: i32, u: v128, sc: v128): void {
  const c32 = i16x8.splat(32);
  const e = tq + (<usize>(k * TR + i) << 4);
  v128.store(e, i16x8.mul(i16x8.sub(i16x8.extend_low_i8x16_u(u), c32), sc));
  v128.store(e + (TR << 4), i16x8.mul(i16x8.sub(i16x8.extend_high_i8x16_u(u), c32), sc));
}

/** Row i of a Q6_K tile straight from its blocks (the codes and groups of dequantize_row_q6_K, as `decodeRow`). */
function decodeTileQ6K(src: usize, nSB: i32, i: i32, tq: usize, tD: usize, tM: usize): void {
  const lane = <usize>i << 2;
  for (let b = 0; b < nSB; b++) {
    const o = src + <usize>b * 210;
    store<f32>(tD + (<usize>b << 4) + lane, ldh(o + 208));
    store<f32>(tM + (<usize>b << 4) + lane, 0);
    for (let half = 0; half < 2; half++) {
      const ql = o + half * 64;
      const qh = o + 128 + half * 32;
      const k0 = b * 32 + half * 16; // chunk of element b·256 + 128·half
      const g0 = o + 192 + half * 8; // int8 scale of its first 16-group
      for (let c = 0; c < 2; c++) {
        const h = v128.load(qh + c * 16);
        const a = v128.load(ql + c * 16);
        const a2 = v128.load(ql + 32 + c * 16);
        storeQ6(tq, k0 + 2 * c, i, q6Codes(a, a2, h, 0), i16x8.splat(<i16>load<i8>(g0 + c)));
        storeQ6(tq, k0 + 4 + 2 * c, i, q6Codes(a, a2, h, 1), i16x8.splat(<i16>load<i8>(g0 + 2 + c)));
        storeQ6(tq, k0 + 8 + 2 * c, i, q6Codes(a, a2, h, 2), i16x8.splat(<i16>load<i8>(g0 + 4 + c)));
        storeQ6(tq, k0 + 12 + 2 * c, i, q6Codes(a, a2, h, 3), i16x8.splat(<i16>load<i8>(g0 + 6 + c)));
      }
    }
  }
}

/** [Σa, Σb, Σc, Σd] of four int32x4 (one row each): the tile's four rows side by side. */
@inline function rowTotals(a: v128, b: v128, c: v128, d: v128): v128 {
  return pairSums(pairSums(a, b), pairSums(c, d));
}

/**
 * Q4_K/Q5_K: Σ_j min_j·(xb_2j + xb_2j+1) over one super-block's eight 32-value sub-blocks for the tile's four rows
 * (`tm`: their int16 mins), the activation sums narrowed to int16 (|Σ of 32 int8| ≤ 4064) for one dot per row.
 */
@inline function tileMinsK(tm: usize, xb: usize): v128 {
  const s = i16x8.narrow_i32x4_s(pairSums(v128.load(xb), v128.load(xb + 16)), pairSums(v128.load(xb + 32), v128.load(xb + 48)));
  return rowTotals(i32x4.dot_i16x8_s(v128.load(tm), s), i32x4.dot_i16x8_s(v128.load(tm + 16), s), i32x4.dot_i16x8_s(v128.load(tm + 32), s), i32x4.dot_i16x8_s(v128.load(tm + 48), s));
}

/** Q4_1/Q5_1: xd·(xb_0 + xb_1), the activation's sum over one 32-block (ggml's Q8_1 `s`), as a splat. */
@inline function legacyMinScale(xd: f32, xb: usize): v128 {
  return f32x4.splat(xd * <f32>(load<i32>(xb) + load<i32>(xb + 4)));
}

/** Stores the tile lanes of rows r … r + nr − 1 at `o` (= out + (t·ldo + r)·4). */
@inline function storeTile(o: usize, v: v128, nr: i32): void {
  if (nr == TR) v128.store(o, v);
  else {
    store<f32>(o, f32x4.extract_lane(v, 0));
    if (nr > 1) store<f32>(o + 4, f32x4.extract_lane(v, 1));
    if (nr > 2) store<f32>(o + 8, f32x4.extract_lane(v, 2));
  }
}

/**
 * The default numerics' prompt kernel (more than FUSED_MAX_TOK tokens; Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K): a
 * register tile of 4 rows × 2 tokens. Four rows are decoded once (`decodeTile`); per 8 values the two tokens' int16
 * activations and the four rows' sc·q are loaded once and feed 8 `i32x4.dot_i16x8_s` into 8 int32x4 accumulators,
 * so each load serves 4 (activation) or 2 (weight) products instead of one. Per super-block the accumulators are
 * reduced to one int32x4 of the four rows' exact integer sums per token, scaled by D·xd (and the mins by M·xd)
 * and added to one f32x4 per token, which is stored as the four rows' outputs. Same integer sums as `rowDot` +
 * `minTerm`; only the f32 order over super-blocks differs (as with ggml's own repacked gemm kernels).
 */
function tiledMatmul(type: i32, w: usize, rowBytes: i32, cols: i32, r0: i32, r1: i32, xd: usize, xb: usize, nTok: i32, out: usize, ldo: i32, scratch: usize, x16: usize): void {
  const G = cols >> 4;
  const gps: i32 = type >= Q2_K ? 16 : 2;
  const nSB = G / gps;
  const cps = gps << 1; // 8-value chunks per super-block
  const kMin = type == Q4_K || type == Q5_K;
  const legacyMin = type == Q4_1 || type == Q5_1;
  const tq = scratch;
  const tmn = tq + (<usize>cols << 3);
  const tD = tmn + (<usize>G << 4);
  const tM = tD + (<usize>nSB << 4);
  const q = tM + (<usize>nSB << 4);
  const sc = q + <usize>cols;
  const mn = sc + (<usize>G << 2);
  const D = mn + (<usize>G << 2);
  const M = D + (<usize>nSB << 2);
  const xRow = <usize>cols << 1;
  for (let r = r0; r < r1; r += TR) {
    const nr = min(TR, r1 - r);
    decodeTile(type, w, rowBytes, cols, r, nr, tq, tmn, tD, tM, q, sc, mn, D, M);
    for (let t = 0; t < nTok; t += 2) {
      // an odd token count ends with the last token in both columns of the tile (stored once)
      const pair = t + 1 < nTok;
      const x0 = x16 + <usize>t * xRow;
      const x1 = pair ? x0 + xRow : x0;
      const xd0 = xd + (<usize>(t * nSB) << 2);
      const xd1 = pair ? xd0 + (<usize>nSB << 2) : xd0;
      const xb0 = xb + (<usize>(t * G) << 2);
      const xb1 = pair ? xb0 + (<usize>G << 2) : xb0;
      let F0 = f32x4.splat(0);
      let F1 = f32x4.splat(0);
      for (let b = 0; b < nSB; b++) {
        let a00 = i32x4.splat(0);
        let a10 = i32x4.splat(0);
        let a20 = i32x4.splat(0);
        let a30 = i32x4.splat(0);
        let a01 = i32x4.splat(0);
        let a11 = i32x4.splat(0);
        let a21 = i32x4.splat(0);
        let a31 = i32x4.splat(0);
        const k0 = b * cps;
        for (let k = k0; k < k0 + cps; k++) {
          const xo = <usize>k << 4;
          const xa = v128.load(x0 + xo);
          const xc = v128.load(x1 + xo);
          const wq = tq + (<usize>k << 6);
          const w0 = v128.load(wq);
          a00 = i32x4.add(a00, i32x4.dot_i16x8_s(w0, xa));
          a01 = i32x4.add(a01, i32x4.dot_i16x8_s(w0, xc));
          const w1 = v128.load(wq + 16);
          a10 = i32x4.add(a10, i32x4.dot_i16x8_s(w1, xa));
          a11 = i32x4.add(a11, i32x4.dot_i16x8_s(w1, xc));
          const w2 = v128.load(wq + 32);
          a20 = i32x4.add(a20, i32x4.dot_i16x8_s(w2, xa));
          a21 = i32x4.add(a21, i32x4.dot_i16x8_s(w2, xc));
          const w3 = v128.load(wq + 48);
          a30 = i32x4.add(a30, i32x4.dot_i16x8_s(w3, xa));
          a31 = i32x4.add(a31, i32x4.dot_i16x8_s(w3, xc));
        }
        const Dv = v128.load(tD + (<usize>b << 4));
        const bo = <usize>b << 2;
        const s0 = load<f32>(xd0 + bo);
        const s1 = load<f32>(xd1 + bo);
        F0 = f32x4.add(F0, f32x4.mul(f32x4.convert_i32x4_s(rowTotals(a00, a10, a20, a30)), f32x4.mul(Dv, f32x4.splat(s0))));
        F1 = f32x4.add(F1, f32x4.mul(f32x4.convert_i32x4_s(rowTotals(a01, a11, a21, a31)), f32x4.mul(Dv, f32x4.splat(s1))));
        if (kMin) {
          const Mv = v128.load(tM + (<usize>b << 4));
          const mb = tmn + (<usize>b << 6);
          const go = <usize>b << 6;
          F0 = f32x4.add(F0, f32x4.mul(f32x4.convert_i32x4_s(tileMinsK(mb, xb0 + go)), f32x4.mul(Mv, f32x4.splat(s0))));
          F1 = f32x4.add(F1, f32x4.mul(f32x4.convert_i32x4_s(tileMinsK(mb, xb1 + go)), f32x4.mul(Mv, f32x4.splat(s1))));
        } else if (legacyMin) {
          const Mv = v128.load(tM + (<usize>b << 4));
          F0 = f32x4.add(F0, f32x4.mul(Mv, legacyMinScale(s0, xb0 + (<usize>b << 3))));
          F1 = f32x4.add(F1, f32x4.mul(Mv, legacyMinScale(s1, xb1 + (<usize>b << 3))));
        }
      }
      storeTile(out + ((<usize>t * ldo + r) << 2), F0, nr);
      if (pair) storeTile(out + ((<usize>(t + 1) * ldo + r) << 2), F1, nr);
    }
  }
}

/**
 * Rows [r0, r1) of out = x · Wᵀ for a `type` weight at `w` (rows of `rowBytes`), activations (xq, xd per
 * super-block, xb per 16, x16 = xq widened) for `nTok` rows, into out[t·ldo + r]. `scratch` holds RB decoded rows
 * (`qmatmulScratchBytes`). `exact` ≠ 0: Q8_0 in ggml's lane order too (bit-identical, slower); `exact` = 0 and more
 * than FUSED_MAX_TOK tokens: the register-tiled prompt kernel for every type but Q2_K/Q3_K (`tiledMatmul`).
 */
export function qmatmul(type: i32, w: usize, rowBytes: i32, cols: i32, r0: i32, r1: i32, xq: usize, xd: usize, xb: usize, nTok: i32, out: usize, ldo: i32, scratch: usize, x16: usize, exact: i32): void {
  if (type == Q8_0 && exact == 0 && !tiled(type, nTok, exact)) {
    q8mm(w, rowBytes, cols, r0, r1, x16, xd, nTok, out, ldo, scratch);
    return;
  }
  if (tiled(type, nTok, exact)) {
    tiledMatmul(type, w, rowBytes, cols, r0, r1, xd, xb, nTok, out, ldo, scratch, x16);
    return;
  }
  if ((type == Q4_K || type == Q6_K) && nTok <= FUSED_MAX_TOK) {
    const nb = cols >> 8;
    for (let r = r0; r < r1; r++) {
      const wr = w + <usize>r * rowBytes;
      for (let t = 0; t < nTok; t++) {
        const xt = x16 + <usize>t * cols * 2;
        const xdt = xd + (<usize>(t * nb) << 2);
        const xbt = xb + (<usize>(t * nb) << 6);
        // the relaxed build reads the int8 codes, the baseline their int16 copy
        const xr = ASC_FEATURE_RELAXED_SIMD ? xq + <usize>t * cols : xt;
        store<f32>(out + ((<usize>t * ldo + r) << 2), type == Q4_K ? q4kRowLanes(wr, xr, xdt, xbt, nb) : q6kRowLanes(wr, xr, xdt, xbt, nb));
      }
    }
    return;
  }
  const G = cols >> 4;
  const gps: i32 = type >= Q2_K ? 16 : 2;
  const nSB = G / gps;
  const hasMin = type == Q4_1 || type == Q5_1 || type == Q2_K || type == Q4_K || type == Q5_K;
  // ggml's lane order: always for the k-quants (one fma per lane per 256 values is cheap); for Q8_0 (one per 32) only
  // when `exact` asks for it
  const laneOrder = (type == Q8_0 && exact != 0) || type == Q2_K || type == Q3_K || type == Q4_K || type == Q6_K;
  const qBuf = scratch;
  const scBuf = qBuf + <usize>RB * cols;
  const mnBuf = scBuf + <usize>RB * G * 4;
  const DBuf = mnBuf + <usize>RB * G * 4;
  const MBuf = DBuf + <usize>RB * nSB * 4;
  const sqBuf = MBuf + <usize>RB * nSB * 4;
  for (let r = r0; r < r1; r += RB) {
    const nr = min(RB, r1 - r);
    for (let i = 0; i < nr; i++) {
      decodeRow(type, w + <usize>(r + i) * rowBytes, cols, qBuf + <usize>i * cols, scBuf + <usize>i * G * 4, mnBuf + <usize>i * G * 4, DBuf + <usize>i * nSB * 4, MBuf + <usize>i * nSB * 4);
      if (laneOrder) scaleRow(qBuf + <usize>i * cols, scBuf + <usize>i * G * 4, cols, sqBuf + <usize>i * cols * 2);
    }
    // token outer, rows inner: one activation row stays in L1 while the block's rows pass over it
    for (let t = 0; t < nTok; t++) {
      const xt = xq + <usize>t * cols;
      const xdt = xd + (<usize>(t * nSB) << 2);
      const xbt = xb + (<usize>(t * G) << 2);
      for (let i = 0; i < nr; i++) {
        const sc = scBuf + <usize>i * G * 4;
        const mn = mnBuf + <usize>i * G * 4;
        const D = DBuf + <usize>i * nSB * 4;
        const M = MBuf + <usize>i * nSB * 4;
        let y: f32;
        if (laneOrder) y = rowDotLanes(type, sqBuf + <usize>i * cols * 2, sc, mn, D, M, x16 + <usize>t * cols * 2, xdt, xbt, nSB);
        else {
          y = rowDot(qBuf + <usize>i * cols, sc, D, xt, xdt, nSB, gps);
          if (hasMin) y += minTerm(mn, M, xbt, xdt, nSB, gps);
        }
        store<f32>(out + ((<usize>t * ldo + r + i) << 2), y);
      }
    }
  }
}

/** FUSED_MAX_TOK for the host: above it the default numerics take the tiled kernel, which reads int16 activations. */
export function qmatmulFusedMaxTokens(): i32 {
  return FUSED_MAX_TOK;
}

/** Whether this build's Q4_K/Q6_K kernels for up to FUSED_MAX_TOK tokens read the int8 codes (no int16 copy). */
export function qmatmulInt8Rows(): bool {
  return ASC_FEATURE_RELAXED_SIMD;
}

/** Bytes of per-thread scratch `qmatmul` needs for rows of `cols` elements. */
export function qmatmulScratchBytes(cols: i32): i32 {
  const rowBlock = RB * cols + 2 * RB * (cols >> 4) * 4 + 2 * RB * (cols >> 5) * 4 + RB * cols * 2;
  // tiledMatmul: the tile (8·cols + 16·G + 32·nSB) and one decoded row (cols + 8·G + 8·nSB), nSB ≤ cols / 32
  const tile = 9 * cols + 24 * (cols >> 4) + 40 * (cols >> 5);
  return max(rowBlock, tile);
}
