// AssemblyScript source of the activation quantizers (compiled with the other kernels by scripts/build-wasm.mjs):
// f32 rows to the 8-bit blocks the integer kernels take — the same codes, scales and sums as the JS reference
// `src/ops/q8-activations.ts` (quantize_row_q8_0 on x86 and quantize_row_q8_K_ref), plus the codes widened to int16
// for the kernels that read them so (`x16`, 0 = not wanted). Pointers are byte offsets into the shared memory.

/** f32 → IEEE half bits, round to nearest even (as _cvtss_sh / GGML_FP32_TO_FP16 on x86). */
@inline function f32ToF16Bits(f: f32): u32 {
  const x = reinterpret<u32>(f);
  const sign = (x >> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (a >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds to infinity
  if (a < 0x38800000) return sign | <u32>nearest(reinterpret<f32>(a) * 16777216.0); // subnormal half: units of 2^-24
  return sign | ((a + 0xfff + ((a >> 13) & 1) - 0x38000000) >> 13);
}

@inline function f16BitsToF32(h: u32): f32 {
  const sign: u32 = (h & 0x8000) << 16;
  const e: u32 = (h >> 10) & 0x1f;
  const mant: u32 = h & 0x3ff;
  if (e == 0) {
    const v: f32 = <f32>mant * 5.9604644775390625e-8;
    return sign ? -v : v;
  }
  if (e == 31) return reinterpret<f32>(sign | 0x7f800000 | (mant << 13));
  return reinterpret<f32>(sign | ((e + 112) << 23) | (mant << 13));
}

/** Codes of 16 floats at `p` times `s`, rounded half to even, as int16 lanes (lo: 0-7, hi: 8-15). */
@inline function codes16(p: usize, s: v128): v128 {
  const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), s)));
  const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p + 16), s)));
  const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p + 32), s)));
  const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p + 48), s)));
  return i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
}

/** Stores 16 int8 codes, their int16 widening (when x16 ≠ 0) and their sum. */
@inline function store16(v: v128, q: usize, x16: usize, sum: usize): void {
  v128.store(q, v);
  const lo = i16x8.extend_low_i8x16_s(v);
  const hi = i16x8.extend_high_i8x16_s(v);
  if (x16) {
    v128.store(x16, lo);
    v128.store(x16 + 16, hi);
  }
  const s = i32x4.add(i32x4.extadd_pairwise_i16x8_s(lo), i32x4.extadd_pairwise_i16x8_s(hi));
  store<i32>(sum, i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
}

@inline function absMax(p: usize, n: i32): f32 {
  let m = f32x4.splat(0);
  // pmax keeps the accumulator where the value is NaN, as the reference's `a > amax` does
  for (let j = 0; j < n; j += 4) m = f32x4.pmax(m, f32x4.abs(v128.load(p + (<usize>j << 2))));
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

/** quantize_row_q8_0 (x86) over `count` floats (a multiple of 32): q, d per 32, sums per 16, x16. */
export function quantizeQ8_0(x: usize, count: i32, q: usize, d: usize, sums: usize, x16: usize): void {
  for (let b = 0; b < count >> 5; b++) {
    const p = x + (<usize>b << 7);
    const amax = absMax(p, 32);
    store<f32>(d + (<usize>b << 2), f16BitsToF32(f32ToF16Bits(amax / 127)));
    const s = f32x4.splat(amax != 0 ? <f32>127 / amax : 0);
    const qo = q + (<usize>b << 5);
    const xo = x16 ? x16 + (<usize>b << 6) : 0;
    store16(codes16(p, s), qo, xo, sums + (<usize>b << 3));
    store16(codes16(p + 64, s), qo + 16, xo ? xo + 32 : 0, sums + (<usize>b << 3) + 4);
  }
}

/** quantize_row_q8_K_ref over `count` floats (a multiple of 256): q, d per 256, bsums per 16, x16. */
export function quantizeQ8_K(x: usize, count: i32, q: usize, d: usize, sums: usize, x16: usize): void {
  for (let b = 0; b < count >> 8; b++) {
    const p = x + (<usize>b << 10);
    const amax = absMax(p, 256);
    const qo = q + (<usize>b << 8);
    const so = sums + (<usize>b << 6);
    const xo = x16 ? x16 + (<usize>b << 9) : 0;
    if (amax == 0) {
      memory.fill(qo, 0, 256);
      memory.fill(so, 0, 64);
      if (xo) memory.fill(xo, 0, 512);
      store<f32>(d + (<usize>b << 2), 0);
      continue;
    }
    // the signed value of the first element of largest magnitude
    let mx: f32 = 0;
    for (let j = 0; j < 256; j++) {
      const v = load<f32>(p + (<usize>j << 2));
      if (abs(v) == amax) {
        mx = v;
        break;
      }
    }
    const iscale: f32 = <f32>-127 / mx;
    store<f32>(d + (<usize>b << 2), <f32>1 / iscale);
    const s = f32x4.splat(iscale);
    for (let g = 0; g < 16; g++) store16(codes16(p + (<usize>g << 6), s), qo + (<usize>g << 4), xo ? xo + (<usize>g << 5) : 0, so + (<usize>g << 2));
  }
}

/** Rounds `n` floats at `p` to the nearest f16 value in place (roundToF16, as the f16 KV/probability path). */
export function roundF16(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const a = p + (<usize>i << 2);
    store<f32>(a, f16BitsToF32(f32ToF16Bits(load<f32>(a))));
  }
}
