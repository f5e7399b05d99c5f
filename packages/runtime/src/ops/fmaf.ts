// Fused multiply-add with one rounding, as C's `fmaf` and the AVX-512 `vfmadd` lanes compute it.
const f = Math.fround;
const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer); // [low, high] (little-endian)

/**
 * C's `fmaf(a, b, c)` for f32 a, b, c: a·b is exact in a double (48 significant bits at most) and the double sum
 * s = a·b + c is made round-to-odd (its error, from TwoSum, decides whether an even s moves one ulp towards the exact
 * value), after which rounding to f32 is correct (53 ≥ 24 + 2 bits).
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bv = s - p;
  const e = p - (s - bv) + (c - bv);
  if (e === 0 || !Number.isFinite(s)) return f(s);
  f64[0] = s;
  if ((f64Words[0] & 1) === 0) {
    // s is even: the exact value lies strictly between s and its odd neighbour towards e
    if (e > 0 === s > 0) {
      f64Words[0] += 1; // magnitude up (an even low word cannot carry)
    } else if (f64Words[0] !== 0) {
      f64Words[0] -= 1; // magnitude down
    } else {
      f64Words[0] = 0xffffffff; // magnitude down, borrowing from the high word
      f64Words[1] -= 1;
    }
  }
  return f(f64[0]);
}
