// Test helper: reproducible floats for the op tests. Not part of the package build.

/** `n` floats uniform in [−scale, scale) from a 32-bit LCG (Numerical Recipes constants) started at `seed`. */
export function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
