import { seededRandom } from "@moeq/formats";

/**
 * `k` distinct indices of [0, n), chosen by a seeded Fisher–Yates shuffle (the runtime's mulberry32) and returned ascending, so a
 * subset keeps the file's order and the same (n, k, seed) always picks the same items.
 */
export function sampleIndices(n: number, k: number, seed: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const rnd = seededRandom(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rnd() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}
