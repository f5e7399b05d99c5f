/**
 * Interleaved-pair RoPE (Meta / GGML "NORM" style): pair i of a head is (x[2i], x[2i+1]), rotated by pos·ω_i.
 * Angles and rotation in f32, as Transformers' `apply_rotary_emb` (view_as_complex on adjacent pairs) does.
 */
const f = Math.fround;

/** Rotates `nHeads` heads of `headDim` at `x[off..]` for position `pos`. */
export function ropeInPlace(x: Float32Array, off: number, nHeads: number, headDim: number, pos: number, invFreq: Float32Array): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const angle = f(pos * invFreq[i]);
    const c = f(Math.cos(angle));
    const s = f(Math.sin(angle));
    for (let h = 0; h < nHeads; h++) {
      const p = off + h * headDim + 2 * i;
      const a = x[p];
      const b = x[p + 1];
      x[p] = f(a * c) - f(b * s);
      x[p + 1] = f(a * s) + f(b * c);
    }
  }
}
