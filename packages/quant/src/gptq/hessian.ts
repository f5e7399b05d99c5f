/**
 * Streaming GPTQ Hessian H = 2/n · Σ x·xᵀ over the n input rows a Linear sees (GPTQModel's form: raw sum, one
 * division at the end; the same optimum as IST-DASLab's running average `add_batch`, since damping is relative).
 * Accumulated in float64 on the lower triangle; `hessianOf` mirrors it into a full matrix.
 */

export interface HessianAccumulator {
  readonly cols: number;
  /** Lower triangle of Σ x·xᵀ, row-major [cols × cols] (upper triangle unused). */
  readonly sum: Float64Array;
  /** Rows folded in so far. */
  n: number;
}

export function createHessian(cols: number): HessianAccumulator {
  return { cols, sum: new Float64Array(cols * cols), n: 0 };
}

/** Folds `nRows` input rows (row-major [nRows × cols]) into the sum. */
export function addRows(acc: HessianAccumulator, rows: Float32Array, nRows: number): void {
  const { cols, sum } = acc;
  for (let t = 0; t < nRows; t++) {
    const x = rows.subarray(t * cols, (t + 1) * cols);
    for (let i = 0; i < cols; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      const ri = i * cols;
      for (let j = 0; j <= i; j++) sum[ri + j] += xi * x[j];
    }
  }
  acc.n += nRows;
}

/** H = 2/n · Σ x·xᵀ as a full symmetric [cols × cols] matrix (all zeros when no rows were seen). */
export function hessianOf(acc: HessianAccumulator): Float64Array {
  const { cols, sum, n } = acc;
  const H = new Float64Array(cols * cols);
  if (n === 0) return H;
  const k = 2 / n;
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j <= i; j++) {
      const v = sum[i * cols + j] * k;
      H[i * cols + j] = v;
      H[j * cols + i] = v;
    }
  }
  return H;
}
