/**
 * sinf / cosf as glibc (≥ 2.28, x86-64) computes them — the ARM optimized-routines algorithm: |x| < π/4 evaluated
 * directly, |x| < 120 reduced with one multiply-subtract by π/2, larger |x| reduced with a 4/π table in 2.62-bit
 * fixed point; then the quadrant-swapped double-precision polynomial rounded to f32. ggml's rope takes its cos/sin
 * from these, and they are not always the correctly rounded f32 (≈2 % of rope angles differ from
 * `Math.fround(Math.cos(x))` by one ulp), which the f16 K/Q rounding turns into visible differences.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}
const abstop12 = (x: number): number => (bitsOf(x) >>> 20) & 0x7ff;

/** Hex float literal "±0xh.hhhp±e" → number (JS has no hex float syntax). */
function hexf(s: string): number {
  const m = /^(-?)0x([0-9a-f])\.([0-9a-f]*)p([+-]?\d+)$/i.exec(s);
  if (!m) throw new Error(`bad hex float ${s}`);
  const frac = m[3] ? parseInt(m[3], 16) / Math.pow(16, m[3].length) : 0;
  return (m[1] ? -1 : 1) * (parseInt(m[2], 16) + frac) * Math.pow(2, Number(m[4]));
}

interface SinCosPoly {
  readonly c0: number;
  readonly c1: number;
  readonly c2: number;
  readonly c3: number;
  readonly c4: number;
  readonly s1: number;
  readonly s2: number;
  readonly s3: number;
}
const HPI_INV = hexf("0x1.45F306DC9C883p+23"); // 2/π · 2^24
const HPI = hexf("0x1.921FB54442D18p0");
const PI63 = hexf("0x1.921FB54442D18p-62"); // 2π · 2^-64
const BASE = {
  c1: hexf("-0x1.ffffffd0c621cp-2"),
  c2: hexf("0x1.55553e1068f19p-5"),
  c3: hexf("-0x1.6c087e89a359dp-10"),
  c4: hexf("0x1.99343027bf8c3p-16"),
  s1: hexf("-0x1.555545995a603p-3"),
  s2: hexf("0x1.1107605230bc4p-7"),
  s3: hexf("-0x1.994eb3774cf24p-13"),
};
/** Entry 1 computes −cos, so the sign of quadrants 2 and 3 comes for free. */
const POLY: readonly SinCosPoly[] = [
  { ...BASE, c0: 1 },
  { ...BASE, c0: -1, c1: -BASE.c1, c2: -BASE.c2, c3: -BASE.c3, c4: -BASE.c4 },
];
const QUADRANT_SIGN = [1, -1, -1, 1];
/** 4/π as overlapping 32-bit windows, 8 new bits per entry. */
const INV_PIO4 = [
  0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529, 0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534,
  0xd1f534dd, 0xf534ddc0, 0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
].map(BigInt);
const PIO4_TOP = abstop12(0.7853981633974483);
const TINY_TOP = abstop12(Math.pow(2, -12));
const R120_TOP = abstop12(120);

/** Polynomial for the reduced argument; odd quadrant `n` evaluates the cosine series. Rounded to f32. */
function poly(x: number, x2: number, p: SinCosPoly, n: number): number {
  if ((n & 1) === 0) {
    const x3 = x * x2;
    const s1 = p.s2 + x2 * p.s3;
    const x7 = x3 * x2;
    const s = x + x3 * p.s1;
    return Math.fround(s + x7 * s1);
  }
  const x4 = x2 * x2;
  const c2 = p.c3 + x2 * p.c4;
  const c1 = p.c0 + x2 * p.c1;
  const x6 = x4 * x2;
  const c = c1 + x4 * p.c2;
  return Math.fround(c + x6 * c2);
}

/** The 4/π table reduction for |x| ≥ 120: exact 64-bit fixed point (BigInt, wrapping like the C code). */
function reduceLarge(bits: number): [number, number] {
  const base = (bits >>> 26) & 15;
  const shift = (bits >>> 23) & 7;
  const xi = BigInt.asUintN(32, BigInt(((bits & 0xffffff) | 0x800000) >>> 0) << BigInt(shift));
  let res0 = BigInt.asUintN(32, xi * INV_PIO4[base]);
  const res1 = xi * INV_PIO4[base + 4];
  const res2 = xi * INV_PIO4[base + 8];
  res0 = BigInt.asUintN(64, (res2 >> 32n) | (res0 << 32n));
  res0 = BigInt.asUintN(64, res0 + res1);
  const n = BigInt.asUintN(64, res0 + (1n << 61n)) >> 62n;
  res0 = BigInt.asUintN(64, res0 - (n << 62n));
  return [Number(BigInt.asIntN(64, res0)) * PI63, Number(n)];
}

function sincosf(y: number, cos: boolean): number {
  const top = abstop12(y);
  const x = y;
  if (top < PIO4_TOP) {
    if (top < TINY_TOP) return cos ? 1 : Math.fround(y);
    return poly(x, x * x, POLY[0], cos ? 1 : 0);
  }
  if (top < R120_TOP) {
    const r = x * HPI_INV;
    const n = ((r | 0) + 0x800000) >> 24;
    const xr = x - n * HPI;
    const s = QUADRANT_SIGN[n & 3];
    const p = POLY[n & 2 ? 1 : 0];
    return poly(xr * s, xr * xr, p, cos ? n ^ 1 : n);
  }
  if (!Number.isFinite(y)) return NaN;
  const bits = bitsOf(y);
  const sign = bits >>> 31;
  const [xr, n] = reduceLarge(bits);
  const s = QUADRANT_SIGN[(n + sign) & 3];
  const p = POLY[(n + sign) & 2 ? 1 : 0];
  return poly(xr * s, xr * xr, p, cos ? n ^ 1 : n);
}

/** glibc sinf of an f32 value. */
export function libmSinf(x: number): number {
  return sincosf(Math.fround(x), false);
}

/** glibc cosf of an f32 value. */
export function libmCosf(x: number): number {
  return sincosf(Math.fround(x), true);
}
