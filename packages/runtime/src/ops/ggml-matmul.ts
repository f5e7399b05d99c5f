/**
 * The matmul llama.cpp's CPU backend computes for a weight of a given type (`ggmlNumerics` mode): Q8_0 weights get
 * the bit-exact integer-domain emulation, every other type the activation rounding of its `vec_dot_type` followed
 * by our f32 kernel (equal up to f32 summation order).
 */
import { GGMLType } from "@moeq/formats";
import type { WeightMatrix } from "./weight-matrix.js";
import { matmul } from "./matmul.js";
import { ggmlActivationsFor } from "./ggml-activations.js";
import { matmulQ8_0Exact } from "./ggml-q8-0-dot.js";

export function ggmlMatmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void {
  if (w.type === GGMLType.Q8_0 && w.cols % 32 === 0) matmulQ8_0Exact(w, x, n, out);
  else matmul(w, ggmlActivationsFor(w.type, x, n, w.cols), n, out);
}
