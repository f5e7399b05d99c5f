/**
 * GPTQ's two error-propagation products on the transposed weight WT [cols × rows] (input column contiguous).
 * These are the hot loops of the solver (IST-DASLab gptq.py `W1[:, i:] -= err1 ⊗ Hinv1[i, i:]` and
 * `W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]`); kept here so gptq.ts reads like the algorithm.
 */

/** WT[k, :] −= U[i, k]·err for k in [k0, k1). `U` is row-major [n × n]. */
export function subtractRankOne(WT: Float64Array, rows: number, err: Float64Array, U: Float64Array, n: number, i: number, k0: number, k1: number): void {
  const ui = i * n;
  for (let k = k0; k < k1; k++) {
    const u = U[ui + k];
    if (u === 0) continue;
    const col = k * rows;
    for (let r = 0; r < rows; r++) WT[col + r] -= u * err[r];
  }
}

/**
 * Lazy batch update: WT[k, :] −= Σ_{j ∈ [i1, i2)} U[j, k]·Err[j − i1, :] for k in [i2, n).
 * `Err` holds the block's scaled errors, [(i2 − i1) × rows].
 */
export function subtractBlockErrors(WT: Float64Array, rows: number, Err: Float64Array, U: Float64Array, n: number, i1: number, i2: number): void {
  for (let k = i2; k < n; k++) {
    const col = k * rows;
    for (let j = i1; j < i2; j++) {
      const u = U[j * n + k];
      if (u === 0) continue;
      const e = (j - i1) * rows;
      for (let r = 0; r < rows; r++) WT[col + r] -= u * Err[e + r];
    }
  }
}
