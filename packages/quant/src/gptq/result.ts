/** What GPTQ and round-to-nearest return for one Linear W [rows = out features × cols = in features]. */
export interface QuantizedLinear {
  readonly rows: number;
  readonly cols: number;
  readonly bits: number;
  readonly groupSize: number;
  readonly sym: boolean;
  /** Integer codes in [0, 2^bits − 1], row-major [rows × cols], original column order. */
  readonly codes: Uint8Array;
  /** fp16-representable scales, [nGroups × rows] (the GPTQ `scales` layout). */
  readonly scales: Float64Array;
  /** Zero points in [0, maxq], [nGroups × rows] (true zeros; the v1 file stores zero − 1). */
  readonly zeros: Int32Array;
  /** Group of each input column [cols] (j // groupSize unless act-order without static groups). */
  readonly gIdx: Int32Array;
}

export function groupCount(cols: number, groupSize: number): number {
  return groupSize === -1 ? 1 : Math.ceil(cols / groupSize);
}

/** ŵ[r, c] = scale[g_idx[c], r] · (q[r, c] − zero[g_idx[c], r]) as float32, row-major [rows × cols]. */
export function dequantizeLinear(q: QuantizedLinear): Float32Array {
  const { rows, cols, codes, scales, zeros, gIdx } = q;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = gIdx[c] * rows + r;
      out[r * cols + c] = scales[g] * (codes[r * cols + c] - zeros[g]);
    }
  }
  return out;
}

/**
 * GPTQ's objective for a quantized W: ½·Σ_rows (w − ŵ)ᵀ H (w − ŵ) = ‖(W − Ŵ)X‖²/n for H = 2XXᵀ/n.
 * The same number for GPTQ and round-to-nearest shows what the error feedback bought ("before/after").
 */
export function hessianError(W: Float32Array, Wq: Float32Array, H: Float64Array, rows: number, cols: number): number {
  const d = new Float64Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) d[c] = W[r * cols + c] - Wq[r * cols + c];
    for (let i = 0; i < cols; i++) {
      if (d[i] === 0) continue;
      let s = 0;
      const hi = i * cols;
      for (let j = 0; j < cols; j++) s += H[hi + j] * d[j];
      total += d[i] * s;
    }
  }
  return total / 2;
}
