// Test helper: deterministic test data without a dependency. Not part of the package build.

/** xorshift32 (13, 17, 5) from `seed` (0 becomes 1): each call returns the next state, an unsigned 32-bit integer. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** The same sequence scaled into [0, 1). */
export function xorshift32Unit(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}
