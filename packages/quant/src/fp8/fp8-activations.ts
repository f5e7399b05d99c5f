/**
 * FP8 E4M3 activation quantization as vLLM applies it in front of an FP8 GEMM, simulated in f32
 * ("fake quantization": x' = e4m3⁻¹(e4m3(x / s)) · s, so x'·w' equals the GEMM's s_x · s_w · (x_q · w_q) up to the
 * order of the sums). The schemes of a compressed-tensors `input_activations` entry:
 *   static   one calibrated scale (`input_scale`)         q = e4m3(x / s)            (scaled_fp8_quant with a scale)
 *   tensor   dynamic, one scale over the whole batch       s = max(amax / 448, 1/(448·512)), q = e4m3(x / s)
 *   token    dynamic, one scale per row (token)            s = max(amax_row / 448, 1/(448·512)), q = e4m3(x · (1/s))
 *   group    dynamic, one scale per `groupSize` columns    s = max(amax_group, 1e-10) / 448, q = e4m3(x / s)
 *            of a row (per_token_group_quant_fp8, 128 for the block scheme)
 * The codec saturates at ±448 (the clamp before the cast); all arithmetic is rounded to f32.
 */
import { f32ToF8E4M3, f8E4M3ToF32 } from "@moeq/formats";
import { QuantShapeError } from "../errors.js";
import { FP8_E4M3_MAX, absMax } from "./fp8.js";

export type Fp8ActivationScheme =
  | { readonly kind: "static"; readonly scale: number }
  | { readonly kind: "tensor" }
  | { readonly kind: "token" }
  | { readonly kind: "group"; readonly groupSize: number };

/** vLLM's `_FP8_MIN_SCALING_FACTOR`: the smallest dynamic per-tensor / per-token scale. */
export const FP8_MIN_DYNAMIC_SCALE = Math.fround(1 / (FP8_E4M3_MAX * 512));
/** The `eps` floor of the per-token-group absolute maximum. */
export const FP8_GROUP_EPS = 1e-10;

const f = Math.fround;

function fakeQuantizeRange(x: Float32Array, out: Float32Array, start: number, end: number, scale: number, reciprocal: boolean): void {
  const inv = f(1 / scale);
  for (let i = start; i < end; i++) {
    const code = f32ToF8E4M3(reciprocal ? f(x[i]! * inv) : f(x[i]! / scale));
    out[i] = f(f8E4M3ToF32(code) * scale);
  }
}

const dynamicScale = (amax: number) => Math.max(f(f(amax) / FP8_E4M3_MAX), FP8_MIN_DYNAMIC_SCALE);

/** x [rows × cols] (row = token) quantized to E4M3 under `scheme` and decoded back, into `out` (may be `x`). */
export function fakeQuantizeFp8Activations(
  x: Float32Array,
  rows: number,
  cols: number,
  scheme: Fp8ActivationScheme,
  out: Float32Array = new Float32Array(rows * cols),
): Float32Array {
  if (x.length < rows * cols || out.length < rows * cols) throw new QuantShapeError("FP8_SHAPE", `activations of ${x.length} values are not ${rows}×${cols}`);
  const n = rows * cols;
  switch (scheme.kind) {
    case "static":
      if (!(scheme.scale > 0 && Number.isFinite(scheme.scale)))
        throw new QuantShapeError("FP8_SCALES", `static input scale must be positive and finite, got ${scheme.scale}`);
      fakeQuantizeRange(x, out, 0, n, f(scheme.scale), false);
      return out;
    case "tensor":
      fakeQuantizeRange(x, out, 0, n, dynamicScale(absMax(x, 0, n)), false);
      return out;
    case "token":
      for (let r = 0; r < rows; r++) fakeQuantizeRange(x, out, r * cols, (r + 1) * cols, dynamicScale(absMax(x, r * cols, (r + 1) * cols)), true);
      return out;
    case "group": {
      const g = scheme.groupSize;
      if (!(Number.isSafeInteger(g) && g > 0 && cols % g === 0))
        throw new QuantShapeError("FP8_SHAPE", `activation group size ${g} does not divide ${cols} columns`);
      for (let s = 0; s < n; s += g) fakeQuantizeRange(x, out, s, s + g, f(Math.max(absMax(x, s, s + g), FP8_GROUP_EPS) / FP8_E4M3_MAX), false);
      return out;
    }
  }
}
