// Test helper: reproducible floats for the op tests. Not part of the package build.

import { seededRandom } from "@moeq/formats";

/** `n` floats uniform in [−scale, scale) from the project's seeded PRNG started at `seed`. */
export function seeded(n: number, seed: number, scale = 1): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}
