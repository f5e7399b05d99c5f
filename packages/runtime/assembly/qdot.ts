// AssemblyScript source of the integer block-dot kernel (compiled with gemm.ts by scripts/build-wasm.mjs).
// A weight row in its ggml block type is decoded, a few rows at a time, into int8 values q, one f32 scale s and
// one f32 offset m per 16 elements (w = s·q + m); activations arrive already quantized to 8 bits (Q8_0 / Q8_K as
// ggml's vec_dot_type) as int8 xq, the scale per 16 elements xd and xs = xd·Σ xq per 16 elements. Then
//   out[t·ldo + r] = Σ_g s_g·xd_g·(Σ q·xq) + Σ_g m_g·xs_g
// with the int8 products summed exactly by i32x4.dot_i16x8_s (ggml_vec_dot_*_q8_* in integer arithmetic; the
// float scaling order differs from ggml's, so this is the fast, not the bit-exact, path).
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

/** Decodes one row of `cols` elements at `src` into q (int8), s and m (f32 per 16 elements). */
function decodeRow(type: i32, src: usize, cols: i32, q: usize, s: usize, m: usize): void {
  if (type == Q8_0 || type == Q4_0 || type == Q4_1 || type == Q5_0 || type == Q5_1) {
    const nb = cols >> 5;
    const bytes: usize = type == Q8_0 ? 34 : type == Q4_0 ? 18 : type == Q4_1 ? 20 : type == Q5_0 ? 22 : 24;
    for (let b = 0; b < nb; b++) {
      const o = src + <usize>b * bytes;
      const qo = q + (<usize>b << 5);
      const d = ldh(o);
      let mn: f32 = 0;
      if (type == Q8_0) {
        v128.store(qo, v128.load(o + 2));
        v128.store(qo + 16, v128.load(o + 18));
      } else if (type == Q4_0 || type == Q4_1) {
        const qs = o + (type == Q4_0 ? 2 : 4);
        const off: i32 = type == Q4_0 ? 8 : 0;
        if (type == Q4_1) mn = ldh(o + 2);
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
        if (type == Q5_1) mn = ldh(o + 2);
        for (let j = 0; j < 16; j++) {
          const v = <i32>load<u8>(qs + j);
          const h0 = <i32>(((qh >> j) << 4) & 0x10);
          const h1 = <i32>((qh >> (j + 12)) & 0x10);
          store<i8>(qo + j, <i8>(((v & 0xf) | h0) - off));
          store<i8>(qo + j + 16, <i8>(((v >> 4) | h1) - off));
        }
      }
      const g = <usize>b << 1;
      store<f32>(s + (g << 2), d);
      store<f32>(s + (g << 2) + 4, d);
      store<f32>(m + (g << 2), mn);
      store<f32>(m + (g << 2) + 4, mn);
    }
    return;
  }
  const nb = cols >> 8;
  for (let b = 0; b < nb; b++) {
    const qo = q + (<usize>b << 8);
    const so = s + (<usize>b << 6); // 16 groups × 4 bytes
    const mo = m + (<usize>b << 6);
    if (type == Q2_K) {
      const o = src + <usize>b * 84;
      const d = ldh(o + 80);
      const dmin = ldh(o + 82);
      for (let g = 0; g < 16; g++) {
        const sc = <i32>load<u8>(o + g);
        store<f32>(so + (g << 2), d * <f32>(sc & 0xf));
        store<f32>(mo + (g << 2), -dmin * <f32>(sc >> 4));
      }
      for (let chunk = 0; chunk < 2; chunk++) {
        const qs = o + 16 + chunk * 32;
        for (let j = 0; j < 4; j++) {
          const e = qo + chunk * 128 + j * 32;
          for (let l = 0; l < 32; l++) store<i8>(e + l, <i8>((<i32>load<u8>(qs + l) >> (2 * j)) & 3));
        }
      }
    } else if (type == Q3_K) {
      const o = src + <usize>b * 110;
      const hm = o;
      const qs = o + 32;
      const sb = o + 96;
      const d = ldh(o + 108);
      for (let g = 0; g < 16; g++) {
        const low = g < 8 ? <i32>(load<u8>(sb + g) & 0xf) : <i32>(load<u8>(sb + g - 8) >> 4);
        const high = <i32>((load<u8>(sb + 8 + (g & 3)) >> (2 * (g >> 2))) & 3);
        store<f32>(so + (g << 2), d * <f32>((low | (high << 4)) - 32));
        store<f32>(mo + (g << 2), 0);
      }
      for (let chunk = 0; chunk < 2; chunk++) {
        for (let j = 0; j < 4; j++) {
          const mask = 1 << (chunk * 4 + j);
          const e = qo + chunk * 128 + j * 32;
          for (let l = 0; l < 32; l++) {
            const lo = (<i32>load<u8>(qs + chunk * 32 + l) >> (2 * j)) & 3;
            store<i8>(e + l, <i8>(lo - ((<i32>load<u8>(hm + l) & mask) ? 0 : 4)));
          }
        }
      }
    } else if (type == Q4_K || type == Q5_K) {
      const five = type == Q5_K;
      const o = src + <usize>b * (five ? 176 : 144);
      const d = ldh(o);
      const dmin = ldh(o + 2);
      const sb = o + 4;
      const qh = o + 16;
      const qs = o + (five ? 48 : 16);
      for (let j = 0; j < 8; j++) {
        const sc = d * <f32>scaleK4(sb, j);
        const mn = -dmin * <f32>minK4(sb, j);
        store<f32>(so + (j << 3), sc);
        store<f32>(so + (j << 3) + 4, sc);
        store<f32>(mo + (j << 3), mn);
        store<f32>(mo + (j << 3) + 4, mn);
      }
      for (let j = 0; j < 4; j++) {
        const e = qo + j * 64;
        const u1 = 1 << (2 * j);
        const u2 = 2 << (2 * j);
        for (let l = 0; l < 32; l++) {
          const v = load<u8>(qs + j * 32 + l);
          let lo = <i32>(v & 0xf);
          let hi = <i32>(v >> 4);
          if (five) {
            const h = <i32>load<u8>(qh + l);
            if (h & u1) lo += 16;
            if (h & u2) hi += 16;
          }
          store<i8>(e + l, <i8>lo);
          store<i8>(e + 32 + l, <i8>hi);
        }
      }
    } else {
      // Q6_K
      const o = src + <usize>b * 210;
      const d = ldh(o + 208);
      for (let g = 0; g < 16; g++) {
        store<f32>(so + (g << 2), d * <f32>load<i8>(o + 192 + g));
        store<f32>(mo + (g << 2), 0);
      }
      for (let half = 0; half < 2; half++) {
        const ql = o + half * 64;
        const qh = o + 128 + half * 32;
        const e = qo + half * 128;
        for (let l = 0; l < 32; l++) {
          const h = <i32>load<u8>(qh + l);
          const a = <i32>load<u8>(ql + l);
          const c = <i32>load<u8>(ql + 32 + l);
          store<i8>(e + l, <i8>(((a & 0xf) | ((h & 3) << 4)) - 32));
          store<i8>(e + 32 + l, <i8>(((c & 0xf) | (((h >> 2) & 3) << 4)) - 32));
          store<i8>(e + 64 + l, <i8>(((a >> 4) | (((h >> 4) & 3) << 4)) - 32));
          store<i8>(e + 96 + l, <i8>(((c >> 4) | (((h >> 6) & 3) << 4)) - 32));
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

/** Σ_g m_g·xs_g over G groups (G even). */
@inline function minTerm(m: usize, xs: usize, G: i32): f32 {
  let acc = f32x4.splat(0);
  let g = 0;
  for (; g + 4 <= G; g += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(m + (<usize>g << 2)), v128.load(xs + (<usize>g << 2))));
  let r = hsum(acc);
  for (; g < G; g++) r += load<f32>(m + (<usize>g << 2)) * load<f32>(xs + (<usize>g << 2));
  return r;
}

/**
 * Rows [r0, r1) of out = x · Wᵀ for a `type` weight at `w` (rows of `rowBytes`), activations (xq, xd, xs) for
 * `nTok` rows, into out[t·ldo + r]. `scratch` holds RB decoded rows (RB·cols + 2·RB·cols/4 bytes).
 */
export function qmatmul(type: i32, w: usize, rowBytes: i32, cols: i32, r0: i32, r1: i32, xq: usize, xd: usize, xs: usize, nTok: i32, out: usize, ldo: i32, scratch: usize): void {
  const G = cols >> 4;
  const hasMin = type == Q4_1 || type == Q5_1 || type == Q2_K || type == Q4_K || type == Q5_K;
  const qBuf = scratch;
  const sBuf = scratch + <usize>RB * cols;
  const mBuf = sBuf + <usize>RB * G * 4;
  for (let r = r0; r < r1; r += RB) {
    const nr = min(RB, r1 - r);
    for (let i = 0; i < nr; i++) {
      decodeRow(type, w + <usize>(r + i) * rowBytes, cols, qBuf + <usize>i * cols, sBuf + <usize>i * G * 4, mBuf + <usize>i * G * 4);
    }
    for (let i = 0; i < nr; i++) {
      const qw = qBuf + <usize>i * cols;
      const sw = sBuf + <usize>i * G * 4;
      const mw = mBuf + <usize>i * G * 4;
      let t = 0;
      // four activation rows per pass: each decoded weight vector feeds four integer dots
      for (; t + 4 <= nTok; t += 4) {
        const x0 = xq + <usize>t * cols;
        const x1 = x0 + cols;
        const x2 = x1 + cols;
        const x3 = x2 + cols;
        const d0 = xd + (<usize>t * G << 2);
        const d1 = d0 + (<usize>G << 2);
        const d2 = d1 + (<usize>G << 2);
        const d3 = d2 + (<usize>G << 2);
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        for (let g = 0; g < G; g++) {
          const o = <usize>g << 4;
          const wv = v128.load(qw + o);
          const wl = i16x8.extend_low_i8x16_s(wv);
          const wh = i16x8.extend_high_i8x16_s(wv);
          const s = load<f32>(sw + (<usize>g << 2));
          const go = <usize>g << 2;
          let xv = v128.load(x0 + o);
          let p = i32x4.add(i32x4.dot_i16x8_s(wl, i16x8.extend_low_i8x16_s(xv)), i32x4.dot_i16x8_s(wh, i16x8.extend_high_i8x16_s(xv)));
          a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(p), f32x4.splat(s * load<f32>(d0 + go))));
          xv = v128.load(x1 + o);
          p = i32x4.add(i32x4.dot_i16x8_s(wl, i16x8.extend_low_i8x16_s(xv)), i32x4.dot_i16x8_s(wh, i16x8.extend_high_i8x16_s(xv)));
          a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_s(p), f32x4.splat(s * load<f32>(d1 + go))));
          xv = v128.load(x2 + o);
          p = i32x4.add(i32x4.dot_i16x8_s(wl, i16x8.extend_low_i8x16_s(xv)), i32x4.dot_i16x8_s(wh, i16x8.extend_high_i8x16_s(xv)));
          a2 = f32x4.add(a2, f32x4.mul(f32x4.convert_i32x4_s(p), f32x4.splat(s * load<f32>(d2 + go))));
          xv = v128.load(x3 + o);
          p = i32x4.add(i32x4.dot_i16x8_s(wl, i16x8.extend_low_i8x16_s(xv)), i32x4.dot_i16x8_s(wh, i16x8.extend_high_i8x16_s(xv)));
          a3 = f32x4.add(a3, f32x4.mul(f32x4.convert_i32x4_s(p), f32x4.splat(s * load<f32>(d3 + go))));
        }
        let y0 = hsum(a0);
        let y1 = hsum(a1);
        let y2 = hsum(a2);
        let y3 = hsum(a3);
        if (hasMin) {
          const s0 = xs + (<usize>t * G << 2);
          y0 += minTerm(mw, s0, G);
          y1 += minTerm(mw, s0 + (<usize>G << 2), G);
          y2 += minTerm(mw, s0 + (<usize>G << 3), G);
          y3 += minTerm(mw, s0 + (<usize>G * 12), G);
        }
        const ob = out + ((<usize>t * ldo + r + i) << 2);
        store<f32>(ob, y0);
        store<f32>(ob + (<usize>ldo << 2), y1);
        store<f32>(ob + (<usize>ldo << 3), y2);
        store<f32>(ob + (<usize>ldo * 12), y3);
      }
      for (; t < nTok; t++) {
        const x0 = xq + <usize>t * cols;
        const d0 = xd + (<usize>t * G << 2);
        let a0 = f32x4.splat(0);
        for (let g = 0; g < G; g++) {
          const o = <usize>g << 4;
          const p = dot16(v128.load(qw + o), v128.load(x0 + o));
          a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(p), f32x4.splat(load<f32>(sw + (<usize>g << 2)) * load<f32>(d0 + (<usize>g << 2)))));
        }
        let y0 = hsum(a0);
        if (hasMin) y0 += minTerm(mw, xs + (<usize>t * G << 2), G);
        store<f32>(out + ((<usize>t * ldo + r + i) << 2), y0);
      }
    }
  }
}

/** Bytes of per-thread scratch `qmatmul` needs for rows of `cols` elements. */
export function qmatmulScratchBytes(cols: i32): i32 {
  return RB * cols + 2 * RB * (cols >> 4) * 4;
}
