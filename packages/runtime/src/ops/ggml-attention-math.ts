/**
 * ggml's f32 arithmetic for the attention ops on the CPU (AVX-512 build), bit for bit:
 * - F16 dot products as llamafile's tinyBLAS computes them (K·Q and V·P with F16 operands): sixteen f32 lanes, lane
 *   i fused-multiply-adding elements i, i+16, …, then `_mm512_reduce_add_ps` (GCC: 256-bit halves, 128-bit halves,
 *   then (l0+l2)+(l1+l3)).
 * - `ggml_v_expf` (AVX-512): the range-reduced polynomial exp used by `ggml_vec_soft_max_f32`, whose sum adds the
 *   16-lane `_mm512_reduce_add_ps` of each chunk in double.
 * Fused multiply-add is emulated as one rounding of the double result (products of f32 values are exact in f64).
 */
const f = Math.fround;

/** Sums 16 lanes like GCC's `_mm512_reduce_add_ps`. */
export function reduceAdd16(l: Float32Array | Float64Array): number {
  // locals, not arrays: this runs once per 16 softmax cells, and per-call arrays kept the GC busy
  // prettier-ignore
  const a0 = f(l[0] + l[8]), a1 = f(l[1] + l[9]), a2 = f(l[2] + l[10]), a3 = f(l[3] + l[11]),
    a4 = f(l[4] + l[12]), a5 = f(l[5] + l[13]), a6 = f(l[6] + l[14]), a7 = f(l[7] + l[15]);
  const b0 = f(a0 + a4), b1 = f(a1 + a5), b2 = f(a2 + a6), b3 = f(a3 + a7); // prettier-ignore
  return f(f(b0 + b2) + f(b1 + b3));
}

/** `reduceAdd16` of the 16 values at a[off..off + 16). */
export function reduceAdd16At(l: Float32Array, o: number): number {
  // prettier-ignore
  const a0 = f(l[o] + l[o + 8]), a1 = f(l[o + 1] + l[o + 9]), a2 = f(l[o + 2] + l[o + 10]), a3 = f(l[o + 3] + l[o + 11]),
    a4 = f(l[o + 4] + l[o + 12]), a5 = f(l[o + 5] + l[o + 13]), a6 = f(l[o + 6] + l[o + 14]), a7 = f(l[o + 7] + l[o + 15]);
  const b0 = f(a0 + a4), b1 = f(a1 + a5), b2 = f(a2 + a6), b3 = f(a3 + a7); // prettier-ignore
  return f(f(b0 + b2) + f(b1 + b3));
}

const lanes = new Float64Array(16);

/** tinyBLAS F16 dot of a[aOff + i·aStride] and b[bOff + i] for i < k (values already f16-rounded, held as f32). */
export function dotF16Tiny(a: Float32Array, aOff: number, aStride: number, b: Float32Array, bOff: number, k: number): number {
  lanes.fill(0);
  for (let i = 0; i < k; i++) {
    const li = i & 15;
    lanes[li] = f(a[aOff + i * aStride] * b[bOff + i] + lanes[li]);
  }
  return reduceAdd16(lanes);
}

const R = 12582912; // 0x1.8p23
const LOG2E = f(1.4426950216293335); // 0x1.715476p+0
const LN2_HI = f(0.693145751953125); // 0x1.62e4p-1
const LN2_LO = f(1.428606765330187e-6); // 0x1.7f7d1cp-20
const C5 = f(0.008247390389442444); // 0x1.0e4020p-7
const C4 = f(0.04189976677298546); // 0x1.573e2ep-5
const C3 = f(0.16668395698070526); // 0x1.555e66p-3
const C2 = f(0.4999912679195404); // 0x1.fffdb6p-2
const C1 = f(0.9999994039535522); // 0x1.ffffecp-1

/** 2ⁿ for the integer n ∈ [−192, 192] ggml_v_expf scales by (exact doubles; Math.pow per call was a profile hot spot). */
const POW2 = Float64Array.from({ length: 385 }, (_, i) => Math.pow(2, i - 192));

/**
 * ggml_v_expf for one f32 lane. `n = z − R` needs no rounding: whenever |n| ≤ 192, z lies in [2²³, 2²⁴) where f32
 * values are the integers, so the difference is an exact small integer (outside that range only its sign is used).
 */
export function ggmlExpf(x: number): number {
  const n = f(x * LOG2E + R) - R;
  if (n > 192 || n < -192) return n <= 0 ? 0 : Infinity;
  const b = f(-n * LN2_LO + f(-n * LN2_HI + x));
  const u = f(b * b);
  const j = f(f(f(C5 * b + C4) * u + f(C3 * b + C2)) * u + f(C1 * b + 1));
  return f(j * POW2[(n | 0) + 192]);
}

/**
 * `a[j] = ggmlExpf(f(a[j] − sub))` for j in [from, to) (the softmax's exponentials), with ggmlExpf written out in the
 * loop: a call per cell was not inlined in the attention and boxed each double it returned. The f32 store does
 * ggmlExpf's last rounding.
 */
export function ggmlExpfRow(a: Float32Array, from: number, to: number, sub: number): void {
  for (let i = from; i < to; i++) {
    const x = f(a[i] - sub);
    const n = f(x * LOG2E + R) - R;
    if (n > 192 || n < -192) {
      a[i] = n <= 0 ? 0 : Infinity;
      continue;
    }
    const b = f(-n * LN2_LO + f(-n * LN2_HI + x));
    const u = f(b * b);
    const j = f(f(f(C5 * b + C4) * u + f(C3 * b + C2)) * u + f(C1 * b + 1));
    a[i] = j * POW2[(n | 0) + 192];
  }
}

/**
 * ggml_vec_swiglu_f32 (AVX-512): `gate[i] = (gate[i] / (1 + ggmlExpf(−gate[i]))) · up[i]`, each step in f32, with
 * ggmlExpf written out in the loop. Its last rounding is skipped: when j·2ⁿ is an f32 normal it is exact (a
 * power-of-two scaling of an f32); below the f32 normals 1 + it rounds to 1 either way; above f32's range both give
 * Infinity once 1 + · is rounded.
 */
export function ggmlSwiglu(gate: Float32Array, up: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const g = gate[i];
    const x = -g;
    const n = f(x * LOG2E + R) - R;
    let e: number;
    if (n > 192 || n < -192) e = n <= 0 ? 0 : Infinity;
    else {
      const b = f(-n * LN2_LO + f(-n * LN2_HI + x));
      const u = f(b * b);
      const j = f(f(f(C5 * b + C4) * u + f(C3 * b + C2)) * u + f(C1 * b + 1));
      e = j * POW2[(n | 0) + 192];
    }
    gate[i] = f(g / f(1 + e)) * up[i]; // the f32 store rounds the product
  }
}
