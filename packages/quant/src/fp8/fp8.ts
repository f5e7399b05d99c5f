/**
 * FP8 E4M3 ("e4m3fn") weight quantization as compressed-tensors does it (quantization/utils/helpers.py
 * `calculate_qparams`, lifecycle/forward.py `_quantize`): symmetric, no zero point,
 *   scale = max(|min(w, 0)|, max(w, 0)) / 448          (f32; clamped to ≥ float32 eps)
 *   code  = e4m3(clamp(w / scale, −448, 448))          (f32 division, round-to-nearest-even)
 *   w'    = e4m3⁻¹(code) · scale
 * over one of three granularities of a weight [rows = out, cols = in]:
 *   per-tensor  one scale                     (compressed-tensors strategy "tensor", scale shape [1])
 *   per-channel one scale per output row      (strategy "channel", shape [rows, 1])
 *   block       one scale per 128×128 tile    (strategy "block", shape [ceil(rows/128), ceil(cols/128)])
 * The E4M3 codec itself is @moeq/formats' `f32ToF8E4M3` (saturating, so the clamp is built in).
 * Pure functions on Float32Array rows; inputs are expected finite (see `firstNonFinite`).
 */
import { f32ToF8E4M3, f8E4M3ToF32 } from "@moeq/formats";
import { QuantShapeError } from "../errors.js";

export type Fp8Scheme = "per-tensor" | "per-channel" | "block";
export const FP8_SCHEMES: readonly Fp8Scheme[] = ["per-tensor", "per-channel", "block"];

/** Largest finite E4M3 magnitude. */
export const FP8_E4M3_MAX = 448;
/** Tile edge of the block scheme (DeepSeek / compressed-tensors FP8_BLOCK). */
export const FP8_BLOCK_SIZE = 128;
/** torch.finfo(torch.float32).eps: the smallest scale compressed-tensors keeps. */
export const FP8_MIN_SCALE = 2 ** -23;

/** Shape of the `weight_scale` tensor for a [rows, cols] weight. */
export function fp8ScaleShape(scheme: Fp8Scheme, rows: number, cols: number): number[] {
  switch (scheme) {
    case "per-tensor":
      return [1];
    case "per-channel":
      return [rows, 1];
    case "block":
      return [Math.ceil(rows / FP8_BLOCK_SIZE), Math.ceil(cols / FP8_BLOCK_SIZE)];
  }
}

/** Index of the first NaN or ±Inf in `w`, or −1. */
export function firstNonFinite(w: Float32Array): number {
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) return i;
  return -1;
}

/** max |w| (0 for an empty array); the range always contains 0, as calculate_qparams makes it. */
export function absMax(w: Float32Array, start = 0, end = w.length): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(w[i]!);
    if (a > m) m = a;
  }
  return m;
}

/** The f32 scale for an absolute maximum: amax / 448 rounded to f32, at least float32 eps. */
export function fp8ScaleFromAbsMax(amax: number): number {
  const s = Math.fround(Math.fround(amax) / FP8_E4M3_MAX);
  return s < FP8_MIN_SCALE ? FP8_MIN_SCALE : s;
}

function checkShape(w: Float32Array, rows: number, cols: number): void {
  if (!(Number.isSafeInteger(rows) && Number.isSafeInteger(cols) && rows >= 0 && cols >= 0) || w.length !== rows * cols) {
    throw new QuantShapeError("FP8_SHAPE", `weight of ${w.length} values is not ${rows}×${cols}`);
  }
}

/** The scales of a [rows, cols] weight, laid out as `fp8ScaleShape` says (row-major). */
export function fp8Scales(w: Float32Array, rows: number, cols: number, scheme: Fp8Scheme): Float32Array {
  checkShape(w, rows, cols);
  switch (scheme) {
    case "per-tensor":
      return Float32Array.of(fp8ScaleFromAbsMax(absMax(w)));
    case "per-channel": {
      const s = new Float32Array(rows);
      for (let r = 0; r < rows; r++) s[r] = fp8ScaleFromAbsMax(absMax(w, r * cols, (r + 1) * cols));
      return s;
    }
    case "block": {
      const [br, bc] = fp8ScaleShape("block", rows, cols) as [number, number];
      const amax = new Float32Array(br * bc);
      for (let r = 0; r < rows; r++) {
        const rowBase = Math.floor(r / FP8_BLOCK_SIZE) * bc;
        for (let c = 0; c < cols; c++) {
          const a = Math.abs(w[r * cols + c]!);
          const k = rowBase + Math.floor(c / FP8_BLOCK_SIZE);
          if (a > amax[k]!) amax[k] = a;
        }
      }
      return amax.map(fp8ScaleFromAbsMax);
    }
  }
}

/** Which scale (index into the `fp8Scales` array) element (r, c) uses. */
function scaleIndexer(scheme: Fp8Scheme, cols: number): (r: number, c: number) => number {
  if (scheme === "per-tensor") return () => 0;
  if (scheme === "per-channel") return (r) => r;
  const bc = Math.ceil(cols / FP8_BLOCK_SIZE);
  return (r, c) => Math.floor(r / FP8_BLOCK_SIZE) * bc + Math.floor(c / FP8_BLOCK_SIZE);
}

function checkScales(scales: Float32Array, scheme: Fp8Scheme, rows: number, cols: number): void {
  const n = fp8ScaleShape(scheme, rows, cols).reduce((a, b) => a * b, 1);
  if (scales.length !== n) throw new QuantShapeError("FP8_SCALES", `${scheme} scales of a ${rows}×${cols} weight hold ${n} values, got ${scales.length}`);
}

/** E4M3 codes of a [rows, cols] weight under `scales` (from `fp8Scales`, or a per-tensor scale fixed beforehand). */
export function encodeFp8(w: Float32Array, rows: number, cols: number, scheme: Fp8Scheme, scales: Float32Array, out = new Uint8Array(rows * cols)): Uint8Array {
  checkShape(w, rows, cols);
  checkScales(scales, scheme, rows, cols);
  if (out.length < rows * cols) throw new QuantShapeError("FP8_OUT", `output holds ${out.length} codes, need ${rows * cols}`);
  if (scheme === "per-tensor" || scheme === "per-channel") {
    for (let r = 0; r < rows; r++) {
      const s = scales[scheme === "per-tensor" ? 0 : r]!;
      for (let i = r * cols; i < (r + 1) * cols; i++) out[i] = f32ToF8E4M3(w[i]! / s); // rounded to f32, then RNE to e4m3
    }
    return out;
  }
  // block: one scale per 128 columns of a row
  const bc = Math.ceil(cols / FP8_BLOCK_SIZE);
  for (let r = 0; r < rows; r++) {
    const sRow = Math.floor(r / FP8_BLOCK_SIZE) * bc;
    for (let b = 0; b < bc; b++) {
      const s = scales[sRow + b]!;
      const end = r * cols + Math.min(cols, (b + 1) * FP8_BLOCK_SIZE);
      for (let i = r * cols + b * FP8_BLOCK_SIZE; i < end; i++) out[i] = f32ToF8E4M3(w[i]! / s);
    }
  }
  return out;
}

export interface Fp8Weight {
  readonly codes: Uint8Array;
  readonly scales: Float32Array;
  readonly scaleShape: number[];
}

/** Scales then codes of a whole [rows, cols] weight. */
export function quantizeFp8(w: Float32Array, rows: number, cols: number, scheme: Fp8Scheme): Fp8Weight {
  const scales = fp8Scales(w, rows, cols, scheme);
  return { codes: encodeFp8(w, rows, cols, scheme, scales), scales, scaleShape: fp8ScaleShape(scheme, rows, cols) };
}

/** w' = e4m3⁻¹(code) · scale, in f32. */
export function dequantizeFp8(
  codes: Uint8Array,
  rows: number,
  cols: number,
  scheme: Fp8Scheme,
  scales: Float32Array,
  out = new Float32Array(rows * cols),
): Float32Array {
  if (codes.length !== rows * cols) throw new QuantShapeError("FP8_SHAPE", `${codes.length} codes is not ${rows}×${cols}`);
  checkScales(scales, scheme, rows, cols);
  const at = scaleIndexer(scheme, cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = Math.fround(f8E4M3ToF32(codes[r * cols + c]!) * scales[at(r, c)]!);
  return out;
}

/** The scheme a stored `weight_scale` shape describes for a [rows, cols] weight, or undefined. */
export function fp8SchemeOfScaleShape(shape: readonly number[], rows: number, cols: number): Fp8Scheme | undefined {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 1 && (shape.length <= 1 || rows !== 1)) return "per-tensor";
  if (shape.length === 2 && shape[0] === rows && shape[1] === 1) return "per-channel";
  const [br, bc] = fp8ScaleShape("block", rows, cols);
  if (shape.length === 2 && shape[0] === br && shape[1] === bc) return "block";
  return undefined;
}
