import { describe, expect, it } from "vitest";
import { rng } from "../test-utils/rows.js";
import { choleskyLowerInPlace, choleskyUpperInPlace, invertLowerInPlace, inverseFromLowerInverse, upperCholeskyOfInverse } from "./cholesky.js";

/** A random SPD matrix B·Bᵀ/n + 0.1·I. */
function spd(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const B = Float64Array.from({ length: n * n }, () => r() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += B[i * n + k] * B[j * n + k];
      A[i * n + j] = s / n + (i === j ? 0.1 : 0);
    }
  return A;
}

describe("upper Cholesky factor of the inverse", () => {
  for (const n of [1, 7, 130]) {
    it(`two-step (reversed Cholesky + triangular inverse) equals torch's three steps, n = ${n}`, () => {
      const H = spd(n, n);
      const fast = upperCholeskyOfInverse(H, n)!;
      const L = Float64Array.from(H);
      expect(choleskyLowerInPlace(L, n)).toBe(true);
      invertLowerInPlace(L, n);
      const ref = new Float64Array(n * n);
      inverseFromLowerInverse(L, n, ref);
      expect(choleskyUpperInPlace(ref, n)).toBe(true);
      let worst = 0;
      for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(fast[i] - ref[i]) / (Math.abs(ref[i]) + 1e-300 + 1e-12));
      expect(worst).toBeLessThan(1e-9);
      // and Uᵀ·U·H = I
      for (const [i, j] of [
        [0, 0],
        [n - 1, 0],
        [Math.floor(n / 2), n - 1],
      ]) {
        let s = 0;
        for (let k = 0; k < n; k++) {
          let inv = 0;
          for (let m = 0; m < n; m++) inv += fast[m * n + i] * fast[m * n + k];
          s += inv * H[k * n + j];
        }
        expect(s).toBeCloseTo(i === j ? 1 : 0, 9);
      }
    });
  }

  it("returns null for a matrix that is not positive definite", () => {
    expect(upperCholeskyOfInverse(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
  });
});
