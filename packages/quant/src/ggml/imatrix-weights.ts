/**
 * The weights ggml's quantize_*_impl functions build from an importance matrix, in float32 as the C computes them.
 */

const fr = Math.fround;

/** Σx² over x[off…off+n), summed sequentially in float32 (the sumx2 loops of ggml-quants.c). */
export function sumOfSquares(x: Float32Array, off: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = fr(s + fr(x[off + i] * x[off + i]));
  return s;
}

/**
 * out[i] = qw[qwOff+i]·sqrtf(sigma2 + x[xOff+i]²) for i < n; returns Σout[i] summed sequentially in float32 (the
 * sub-block weight sum the K-quants pass to make_qp_quants / make_qx_quants).
 */
export function imatrixWeights(x: Float32Array, xOff: number, qw: Float32Array, qwOff: number, sigma2: number, n: number, out: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i];
    const w = fr(qw[qwOff + i] * fr(Math.sqrt(fr(sigma2 + fr(v * v)))));
    out[i] = w;
    sum = fr(sum + w);
  }
  return sum;
}
