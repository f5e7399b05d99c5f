/**
 * The op implementations a text model runs with, chosen once per model from its `ggmlNumerics` mode instead of
 * branching inside every op of the forward pass:
 * - "f32": exact f32 math as Transformers (safetensors checkpoints);
 * - "ggml": llama.cpp's CPU numerics up to summation order — 8-bit activations and integer block dots, f16 K/V/Q
 *   and softmax probabilities, ggml's soft_max (ggml_v_expf, 16-cell chunk sums) around 4-lane K·Q / V·P gemms, and
 *   ggml's own rms_norm/rope/swiglu/sigmoid (GGUF default). With Math.exp's softmax instead, 6 of 1024 near-tied
 *   top-1 tokens of the Q2_K fixture flip against llama.cpp (99.41 %, `runtime-parity.test.ts`); with ggml's, 3
 *   (99.71 %); the f32 rms_norm/rope/swiglu/sigmoid flip 6 even with the "exact" mode's whole attention;
 * - "exact": llama.cpp's CPU backend bit for bit (`--no-repack`, x86-64 AVX2/AVX-512): scalar emulations.
 */
import type { WeightMatrix } from "../ops/weight-matrix.js";
import { matmul, matmulGgml } from "../ops/matmul.js";
import { ggmlMatmul, ggmlMatmulId } from "../ops/ggml-matmul.js";
import { rmsNorm, rmsNormGgml, swiglu, swigluGgml } from "../ops/elementwise.js";
import { ropeGgmlInPlace, ropeInPlace, type GgmlRope } from "../ops/rope.js";

const f = Math.fround;

export type NumericsMode = "f32" | "ggml" | "exact";

export interface RopeParams {
  /** Transformers' inverse frequencies (f32 mode and ggml mode). */
  readonly invFreq: Float32Array;
  /** ggml's rope: powf(base, −2/n_dims) and `rope_freqs` factors ("exact"). */
  readonly ggml: GgmlRope;
}

export interface ForwardNumerics {
  readonly mode: NumericsMode;
  rmsNorm(x: Float32Array, weight: Float32Array | null, n: number, d: number, eps: number, out: Float32Array): void;
  /** out = x · Wᵀ for n activation rows. */
  matmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void;
  /** out = x · Wᵀ for one routed expert's n rows (llama.cpp's MUL_MAT_ID, whose F16 kernel is not MUL_MAT's). */
  expertMatmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void;
  /** Rotates `nHeads` heads at x[off..] for position `pos`. */
  rope(x: Float32Array, off: number, nHeads: number, headDim: number, pos: number): void;
  /** gate ← silu(gate) ⊙ up. */
  swiglu(gate: Float32Array, up: Float32Array, n: number): void;
  sigmoid(x: number): number;
  /** K/V cached, Q fed to K·Q and the softmax probabilities fed to V·P as f16 (llama.cpp's default f16 cache). */
  readonly f16Attention: boolean;
  /** Attention in ggml's tinyBLAS / soft_max order. */
  readonly ggmlAttentionOrder: boolean;
}

export function forwardNumerics(mode: NumericsMode, rope: RopeParams, threads: number): ForwardNumerics {
  const ropeHf = (x: Float32Array, off: number, nHeads: number, headDim: number, pos: number) => ropeInPlace(x, off, nHeads, headDim, pos, rope.invFreq);
  const sigmoidF32 = (x: number) => f(1 / (1 + Math.exp(-x)));
  switch (mode) {
    case "f32": {
      const mm = (w: WeightMatrix, x: Float32Array, n: number, out: Float32Array) => matmul(w, x, n, out, threads);
      return {
        mode,
        rmsNorm,
        swiglu,
        rope: ropeHf,
        sigmoid: sigmoidF32,
        f16Attention: false,
        ggmlAttentionOrder: false,
        matmul: mm,
        expertMatmul: mm,
      };
    }
    case "ggml": {
      // the fast integer matmul (Q8_0 with one float step per 32-block) and attention, ggml's elementwise ops
      const mm = (w: WeightMatrix, x: Float32Array, n: number, out: Float32Array) => matmulGgml(w, x, n, out, threads);
      return { ...ggmlElementwise(rope, threads), mode, ggmlAttentionOrder: false, matmul: mm, expertMatmul: mm };
    }
    case "exact":
      return {
        ...ggmlElementwise(rope, threads),
        mode,
        ggmlAttentionOrder: true,
        matmul: (w, x, n, out) => ggmlMatmul(w, x, n, out, threads),
        expertMatmul: (w, x, n, out) => ggmlMatmulId(w, x, n, out, threads),
      };
  }
}

/** llama.cpp's CPU rms_norm, rope, swiglu and sigmoid, bit for bit. */
function ggmlElementwise(rope: RopeParams, threads: number): Pick<ForwardNumerics, "rmsNorm" | "swiglu" | "rope" | "sigmoid" | "f16Attention"> {
  return {
    rmsNorm: rmsNormGgml,
    swiglu: (g, u, n) => swigluGgml(g, u, n, threads),
    rope: (x, off, nHeads, _headDim, pos) => ropeGgmlInPlace(x, off, nHeads, pos, rope.ggml),
    // ggml_sigmoid: 1.f / (1.f + expf(-x)), each step in f32
    sigmoid: (x) => f(1 / f(1 + f(Math.exp(-x)))),
    f16Attention: true,
  };
}
