/**
 * The GPTQ integer grid: per-row (per-group) scale and zero from min/max, and the fake-quantize step shared by
 * GPTQ and round-to-nearest. Follows IST-DASLab gptq `quant.py` (`Quantizer.find_params`, `quantize`) with
 * `perchannel=True`, `mse=False`:
 *   xmin = min(0, min w), xmax = max(0, max w); sym: xmax = max(|xmin|, xmax), xmin = −xmax where xmin < 0;
 *   xmin == xmax == 0 → (−1, +1); scale = (xmax − xmin)/maxq; zero = sym ? (maxq+1)/2 : round(−xmin/scale);
 *   q = clamp(round(w/scale) + zero, 0, maxq), ŵ = scale·(q − zero); torch.round is half-to-even.
 * One deliberate difference: the scale is rounded to fp16 before the zero and the codes are computed, so the
 * error feedback sees exactly the grid a GPTQ checkpoint stores (`scales` are fp16). The torch referee does
 * the same (fixtures/tools/gptq_ref.py).
 */
import { F16_TO_F32, f32ToF16 } from "@moeq/formats";

/** The integer format one Linear is quantized to. */
export interface GptqFormat {
  /** 2, 3, 4 or 8. */
  readonly bits: number;
  /** Input columns per scale/zero group; −1 = one group over the whole row. */
  readonly groupSize: number;
  /** Symmetric grid (zero fixed at 2^(bits−1)); default asymmetric. */
  readonly sym: boolean;
}

/** Scale and zero of each output row for one group of columns. */
export interface GroupParams {
  /** [rows], fp16-representable values. */
  readonly scale: Float64Array;
  /** [rows], integers in [0, maxq]. */
  readonly zero: Int32Array;
}

export function maxq(bits: number): number {
  return 2 ** bits - 1;
}

/** torch.round: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** fp16 value nearest to x (through float32, as `scale.float().half()`). */
export function toFp16Value(x: number): number {
  return F16_TO_F32[f32ToF16(Math.fround(x))];
}

/**
 * Quantizer.find_params for one group: input columns [c0, c1) of WT, the weight held transposed
 * ([cols × rows], one input column contiguous, as GPTQ's column loop reads it).
 */
export function findParams(WT: Float64Array, rows: number, c0: number, c1: number, format: GptqFormat): GroupParams {
  const mq = maxq(format.bits);
  const xmin = new Float64Array(rows);
  const xmax = new Float64Array(rows);
  for (let c = c0; c < c1; c++) {
    const col = c * rows;
    for (let r = 0; r < rows; r++) {
      const w = WT[col + r];
      if (w < xmin[r]) xmin[r] = w;
      if (w > xmax[r]) xmax[r] = w;
    }
  }
  const scale = new Float64Array(rows);
  const zero = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let lo = xmin[r];
    let hi = xmax[r];
    if (format.sym) {
      hi = Math.max(-lo, hi);
      if (lo < 0) lo = -hi;
    }
    if (lo === 0 && hi === 0) {
      lo = -1;
      hi = 1;
    }
    const s = toFp16Value((hi - lo) / mq);
    scale[r] = s;
    zero[r] = format.sym ? (mq + 1) / 2 : roundHalfEven(-lo / s);
  }
  return { scale, zero };
}

/** W [rows × cols] row-major (Float32) → WT [cols × rows] in float64, in 32×32 tiles (both sides stay in cache). */
export function transposeToF64(W: Float32Array, rows: number, cols: number, WT: Float64Array = new Float64Array(rows * cols)): Float64Array {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(r0 + T, rows);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(c0 + T, cols);
      for (let c = c0; c < c1; c++) for (let r = r0; r < r1; r++) WT[c * rows + r] = W[r * cols + c];
    }
  }
  return WT;
}

/** The integer code of w on the grid (scale, zero): clamp(round(w/scale) + zero, 0, maxq). */
export function quantizeCode(w: number, scale: number, zero: number, mq: number): number {
  const q = roundHalfEven(w / scale) + zero;
  return q < 0 ? 0 : q > mq ? mq : q;
}

/** `quantize(x, scale, zero, maxq)` of quant.py: the dequantized grid value nearest to w. */
export function fakeQuantize(w: number, scale: number, zero: number, mq: number): number {
  return scale * (quantizeCode(w, scale, zero, mq) - zero);
}
