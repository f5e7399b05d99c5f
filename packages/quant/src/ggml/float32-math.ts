/**
 * The float32 primitives ggml's quantizers rely on, reproduced bit for bit in JavaScript doubles.
 * Every arithmetic step in the codecs is wrapped in Math.fround in C's evaluation order: for + − × ÷ and sqrt,
 * rounding the exact double result to float32 equals the float32 operation (a double carries ≥ 2·24+2 bits).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** ggml's GROUP_MAX_EPS (1e-15f): below this max |x| a group is treated as all zero. */
export const GROUP_MAX_EPS = Math.fround(1e-15);

/**
 * The value of largest magnitude among x[off…off+n), the first one on ties: what ggml's
 * `if (ax > amax) { amax = ax; max = x[i]; }` loops find (0 when all are zero; a NaN never wins).
 */
export function maxByMagnitude(x: Float32Array, off: number, n: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const v = x[off + i];
    const a = Math.abs(v);
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  return max;
}

/**
 * nearest_int from ggml-quants.c: adds 1.5·2^23 in float32 and reads the low mantissa bits, i.e. round half to
 * even for |v| ≤ 4194303. Outside that range (possible in ggml's refinement loops when a divisor is tiny) the
 * C code's assert is compiled out and the bit trick yields a deterministic wrong value; we reproduce that too.
 */
export function nearestInt(v: number): number {
  const t = Math.fround(v + 12582912);
  if (t >= 8388608 && t < 16777216) return t - 12582912;
  f32[0] = t;
  return (u32[0] & 0x007fffff) - 0x00400000;
}

/** C roundf: half away from zero (only Q8_0 uses it). `v` is a float32 value. */
export function roundHalfAway(v: number): number {
  return v >= 0 ? Math.floor(v + 0.5) : -Math.floor(0.5 - v);
}

/**
 * A C float → integer conversion as x86-64 compiles it (cvttss2si): truncation toward zero, and the "integer
 * indefinite" 0x80000000 for NaN and anything outside the int32 range. ggml's legacy quantizers convert to
 * int8/uint8 this way, which matters when 1/d overflows to inf (blocks of subnormal-sized values).
 */
export function cvttToInt32(v: number): number {
  return v < 2147483648 && v >= -2147483648 ? Math.trunc(v) : -2147483648;
}

/** C's (int8_t) conversion of an int: wrap modulo 256 into −128…127. */
export function toInt8(v: number): number {
  return (v << 24) >> 24;
}
