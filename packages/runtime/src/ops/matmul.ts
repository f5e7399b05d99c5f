/**
 * y = x · Wᵀ for a batch of activation rows: `out[t·rows + r] = Σ_c W[r, c] · x[t·cols + c]`.
 * Weights are decoded four rows at a time into a reused scratch buffer (dequantize-on-the-fly, never a full f32
 * copy), then each decoded row block is dotted with every activation row. Accumulation is in f64.
 */
import type { WeightMatrix } from "./weight-matrix.js";
import { decodeRow } from "./weight-matrix.js";

let scratch = new Float32Array(0);

function scratchFor(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

/** Matrix-matrix product for `nTok` activation rows. `out` must hold nTok × w.rows floats. */
export function matmul(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array): void {
  const { rows, cols } = w;
  if (x.length < nTok * cols) throw new RangeError(`matmul: x holds ${x.length} floats, need ${nTok}×${cols}`);
  if (out.length < nTok * rows) throw new RangeError(`matmul: out holds ${out.length} floats, need ${nTok}×${rows}`);
  const f32 = w.f32;
  const buf = f32 ? null : scratchFor(4 * cols);
  const src = f32 ?? buf!;
  for (let r = 0; r < rows; r += 4) {
    const nr = Math.min(4, rows - r);
    let b0 = 0, b1 = cols, b2 = 2 * cols, b3 = 3 * cols;
    if (f32) {
      b0 = r * cols;
      b1 = b0 + cols;
      b2 = b1 + cols;
      b3 = b2 + cols;
    } else {
      for (let i = 0; i < nr; i++) decodeRow(w, r + i, buf!.subarray(i * cols, (i + 1) * cols));
    }
    if (nr === 4) {
      for (let t = 0; t < nTok; t++) {
        const xo = t * cols;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let c = 0; c < cols; c++) {
          const xv = x[xo + c];
          s0 += src[b0 + c] * xv;
          s1 += src[b1 + c] * xv;
          s2 += src[b2 + c] * xv;
          s3 += src[b3 + c] * xv;
        }
        const o = t * rows + r;
        out[o] = s0;
        out[o + 1] = s1;
        out[o + 2] = s2;
        out[o + 3] = s3;
      }
    } else {
      for (let i = 0; i < nr; i++) {
        const b = b0 + i * cols;
        for (let t = 0; t < nTok; t++) {
          const xo = t * cols;
          let s = 0;
          for (let c = 0; c < cols; c++) s += src[b + c] * x[xo + c];
          out[t * rows + r + i] = s;
        }
      }
    }
  }
}
