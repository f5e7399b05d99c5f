/**
 * Activations quantized to the 8-bit blocks llama.cpp's CPU backend multiplies block-quantized weights with (the
 * weight type's `vec_dot_type`): Q8_0 (quantize_row_q8_0, also the Q8_1 grid) and Q8_K (quantize_row_q8_K_ref). One
 * place emits the codes; the integer kernels take them as they are (`int-matmul.ts`, the scalar emulations
 * `ggml-q8-0-dot.ts` / `ggml-kquant-dot.ts`) and `ggml-activations.ts` turns them back into floats (q·d) for the
 * f32 kernels.
 */
import { roundToF16 } from "./half.js";

const f = Math.fround;
const MAGIC = 12582912; // 1.5·2^23: adding it in f32 rounds to the nearest integer, ties to even (ggml nearest_int, _mm256_round_ps)

export type Q8Kind = "q8_0" | "q8_K";

/** Values per block: one scale each. */
export const Q8_BLOCK: Record<Q8Kind, number> = { q8_0: 32, q8_K: 256 };

/** Rows quantized to 8-bit blocks: codes, one scale per block and the integer sum of every 16 codes. */
export interface Q8Rows {
  readonly q: Int8Array;
  readonly d: Float32Array;
  readonly sums: Int32Array;
}

/**
 * quantize_row_q8_0 (x86): per 32 values d = fp16(amax/127), q = round_even(x·127/amax), over the first `count`
 * values of `x` (a multiple of 32). Writes `q[i]`, `d[i / 32]` and `sums[i / 16]` (the Q8_1 sums Q4_1/Q5_1 need).
 */
export function quantizeQ8_0(x: Float32Array, count: number, q: Int8Array, d: Float32Array, sums: Int32Array): void {
  for (let b = 0; b < count / 32; b++) {
    const off = b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[off + j]);
      if (a > amax) amax = a;
    }
    d[b] = roundToF16(f(amax / 127));
    const id = amax !== 0 ? f(127 / amax) : 0;
    for (let g = 0; g < 2; g++) {
      let s = 0;
      for (let j = off + 16 * g; j < off + 16 * g + 16; j++) {
        const v = f(f(x[j] * id) + MAGIC) - MAGIC;
        q[j] = v;
        s += v;
      }
      sums[2 * b + g] = s;
    }
  }
}

/**
 * quantize_row_q8_K_ref: per 256 values iscale = −127/max (max: the signed value of largest magnitude),
 * q = min(127, nearest_int(iscale·x)), d = 1/iscale (all-zero blocks: d = 0, q = 0), over the first `count` values of
 * `x` (a multiple of 256). Writes `q[i]`, `d[i / 256]` and `sums[i / 16]` (the bsums).
 */
export function quantizeQ8_K(x: Float32Array, count: number, q: Int8Array, d: Float32Array, sums: Int32Array): void {
  for (let b = 0; b < count / 256; b++) {
    const off = b * 256;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[off + j];
      const a = Math.abs(v);
      if (a > amax) {
        amax = a;
        max = v;
      }
    }
    if (amax === 0) {
      q.fill(0, off, off + 256);
      d[b] = 0;
      sums.fill(0, b * 16, b * 16 + 16);
      continue;
    }
    const iscale = f(-127 / max);
    d[b] = f(1 / iscale);
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let j = off + g * 16; j < off + g * 16 + 16; j++) {
        const v = Math.min(127, f(f(iscale * x[j]) + MAGIC) - MAGIC);
        q[j] = v;
        s += v;
      }
      sums[b * 16 + g] = s;
    }
  }
}

/** `n` rows of `cols` (a multiple of the block size) quantized to `kind`, in fresh arrays. */
export function quantizeRowsQ8(kind: Q8Kind, x: Float32Array, n: number, cols: number): Q8Rows {
  const count = n * cols;
  const rows: Q8Rows = { q: new Int8Array(count), d: new Float32Array(count / Q8_BLOCK[kind]), sums: new Int32Array(count / 16) };
  (kind === "q8_0" ? quantizeQ8_0 : quantizeQ8_K)(x, count, rows.q, rows.d, rows.sums);
  return rows;
}

/** The same rows rounded to the `kind` grid as floats: q·d per value (llama.cpp's activations, seen by an f32 kernel). */
export function fakeQuantRowsQ8(kind: Q8Kind, x: Float32Array, n: number, cols: number): Float32Array {
  const { q, d } = quantizeRowsQ8(kind, x, n, cols);
  const block = Q8_BLOCK[kind];
  const out = new Float32Array(n * cols);
  for (let i = 0; i < out.length; i++) out[i] = q[i] * d[(i / block) | 0];
  return out;
}
