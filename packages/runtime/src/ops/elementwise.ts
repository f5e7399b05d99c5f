/** Row-wise ops of the Llama 4 forward, all on Float32Array rows. */
import { ggmlSwiglu } from "./ggml-attention-math.js";
import { wasmHost } from "./wasm-host.js";

/** RMSNorm of `n` rows of width `d` in place into `out`: x · rsqrt(mean(x²) + eps) · weight (weight null = weightless). */
export function rmsNorm(x: Float32Array, weight: Float32Array | null, n: number, d: number, eps: number, out: Float32Array): void {
  for (let t = 0; t < n; t++) {
    const o = t * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[o + i] * x[o + i];
    // Transformers computes rsqrt in f32 and multiplies in f32.
    const scale = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / d) + eps)));
    if (weight) for (let i = 0; i < d; i++) out[o + i] = Math.fround(x[o + i] * scale) * weight[i];
    else for (let i = 0; i < d; i++) out[o + i] = x[o + i] * scale;
  }
}

/**
 * ggml_compute_forward_rms_norm_f32 (+ the fused/unfused ggml_mul by the gain): squares rounded to f32 and summed
 * in double, mean cast to f32, scale = 1.0f / sqrtf(mean + eps) with both operations rounded to f32, then
 * y = (x · scale) · w in f32.
 */
export function rmsNormGgml(x: Float32Array, weight: Float32Array | null, n: number, d: number, eps: number, out: Float32Array): void {
  const f = Math.fround;
  const epsF = f(eps);
  for (let t = 0; t < n; t++) {
    const o = t * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += f(x[o + i] * x[o + i]);
    const mean = f(ss / d);
    const scale = f(1 / f(Math.sqrt(f(mean + epsF))));
    if (weight) for (let i = 0; i < d; i++) out[o + i] = f(x[o + i] * scale) * weight[i];
    else for (let i = 0; i < d; i++) out[o + i] = x[o + i] * scale;
  }
}

/** SwiGLU in place: gate[i] = silu(gate[i]) · up[i]. */
export function swiglu(gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    gate[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/**
 * ggml_vec_swiglu_f32 (AVX-512): gate[i] = (gate[i] / (1 + ggml_v_expf(−gate[i]))) · up[i], each step in f32. In the
 * WASM kernels (two f64 lanes per step, the same bits as `ggmlSwiglu`) where they run, else in JS.
 */
export function swigluGgml(gate: Float32Array, up: Float32Array, n: number, threads = 1): void {
  const host = wasmHost();
  if (!host || n < 64) {
    ggmlSwiglu(gate, up, n);
    return;
  }
  const g = host.block("swiglu-gate", n * 4);
  const u = host.block("swiglu-up", n * 4);
  const mem = host.f32();
  mem.set(gate.subarray(0, n), g >> 2);
  mem.set(up.subarray(0, n), u >> 2);
  host.swigluGgml(g, u, n, threads);
  gate.set(host.f32().subarray(g >> 2, (g >> 2) + n));
}

/** Softmax of `x[0..n)` in place (f64 accumulation). */
export function softmaxInPlace(x: Float32Array | Float64Array, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < n; i++) x[i] *= inv;
}
