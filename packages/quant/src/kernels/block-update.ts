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
 * `Err` holds the block's scaled errors, [(i2 − i1) × rows]. Four error rows per pass over WT[k, :] (a quarter of
 * the loads and stores of WT), summed before the subtraction.
 */
export function subtractBlockErrors(WT: Float64Array, rows: number, Err: Float64Array, U: Float64Array, n: number, i1: number, i2: number): void {
  for (let k = i2; k < n; k++) {
    const col = k * rows;
    let j = i1;
    for (; j + 4 <= i2; j += 4) {
      const u0 = U[j * n + k],
        u1 = U[(j + 1) * n + k],
        u2 = U[(j + 2) * n + k],
        u3 = U[(j + 3) * n + k];
      const e0 = (j - i1) * rows,
        e1 = e0 + rows,
        e2 = e1 + rows,
        e3 = e2 + rows;
      for (let r = 0; r < rows; r++) WT[col + r] -= u0 * Err[e0 + r] + u1 * Err[e1 + r] + (u2 * Err[e2 + r] + u3 * Err[e3 + r]);
    }
    for (; j < i2; j++) {
      const u = U[j * n + k];
      const e = (j - i1) * rows;
      for (let r = 0; r < rows; r++) WT[col + r] -= u * Err[e + r];
    }
  }
}
