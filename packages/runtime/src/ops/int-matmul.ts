/**
 * llama.cpp's CPU matmul for block-quantized weights, the fast way: the activations are quantized once per row to
 * the weight type's `vec_dot_type` (Q8_0 for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0, Q8_K for Q2_K…Q6_K, as
 * quantize_row_q8_0 / quantize_row_q8_K_ref), then the WASM kernel (`assembly/qdot.ts`) takes integer block dot
 * products straight from the weight's file blocks (no dequantized copy), split over output rows between threads.
 * The integer sums are exact; for Q8_0, Q2_K, Q3_K, Q4_K and Q6_K the float steps follow ggml's AVX2 lane order too,
 * so those results are bit-identical to llama.cpp (`intMatmulIsExact`); Q4_0/Q4_1/Q5_0/Q5_1/Q5_K scale each
 * super-block's integer sum once (float order differs from ggml's by about an ulp). Without `exact`, prompts (more
 * than two tokens) of every type but Q2_K/Q3_K take the register-tiled kernel, which does the same for all of them.
 */
import { GGMLType } from "@moeq/formats";
import type { WeightMatrix } from "./weight-matrix.js";
import type { WasmHost } from "./wasm-host.js";
import type { Q8Kind } from "./q8-activations.js";

/** Which 8-bit activation blocks a weight type's integer dot product takes (null: no integer kernel). */
export function intDotActivation(type: GGMLType): Q8Kind | null {
  switch (type) {
    case GGMLType.Q4_0:
    case GGMLType.Q4_1:
    case GGMLType.Q5_0:
    case GGMLType.Q5_1:
    case GGMLType.Q8_0:
      return "q8_0";
    case GGMLType.Q2_K:
    case GGMLType.Q3_K:
    case GGMLType.Q4_K:
    case GGMLType.Q5_K:
    case GGMLType.Q6_K:
      return "q8_K";
    default:
      return null;
  }
}

/**
 * Types whose integer kernel can follow ggml's x86 AVX2 lane order and so be bit-identical to llama.cpp
 * (`ggml_vec_dot_q8_0_q8_0` when asked for, `ggml_vec_dot_q{2,3,4,6}_K_q8_K` always); the others only up to
 * float summation order.
 */
export function intMatmulIsExact(type: GGMLType): boolean {
  return type === GGMLType.Q8_0 || type === GGMLType.Q2_K || type === GGMLType.Q3_K || type === GGMLType.Q4_K || type === GGMLType.Q6_K;
}

/** Below this many multiply-adds a matmul stays on the calling thread (waking the workers costs more). */
const PARALLEL_MIN_MACS = 1 << 17;

/**
 * out[t·rows + r] = Σ_c W[r, c]·x̂[t·cols + c] with x̂ the 8-bit activations; false when the type has no integer
 * kernel. `exact`: Q8_0 in ggml's lane order too (the k-quants always are; Q8_0's per-32 fma emulation is slower).
 */
export function intMatmul(host: WasmHost, w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array, threads: number, exact = false): boolean {
  const kind = intDotActivation(w.type);
  const { rows, cols } = w;
  if (kind === null || cols % (kind === "q8_0" ? 32 : 256) !== 0) return false;
  const G = cols / 16;
  const nSB = cols / (kind === "q8_0" ? 32 : 256);
  let wOff: number;
  if (host.holds(w.data)) wOff = w.data.byteOffset;
  else {
    // weights outside the shared memory (it was full): copied for this call only
    wOff = host.block("weight-copy", rows * w.rowBytes);
    host.u8().set(w.data.subarray(0, rows * w.rowBytes), wOff);
  }
  const xq = host.block("xq", nTok * cols);
  const xd = host.block("xd", nTok * nSB * 4);
  const xb = host.block("xb", nTok * G * 4);
  const o = host.block("out", nTok * rows * 4);
  // int16 activations: the lane-order kernels, the Q8_0 kernel and the default numerics' tiled prompt kernel (more
  // than FUSED_MAX_TOK tokens in assembly/qdot.ts) take them; the relaxed build's Q4_K/Q6_K rows read the int8 codes
  const fused = nTok <= host.fusedMaxTokens;
  const int8Only = fused && host.int8Rows && (w.type === GGMLType.Q4_K || w.type === GGMLType.Q6_K);
  const widened = !int8Only && (intMatmulIsExact(w.type) || (!exact && !fused));
  const x16 = widened ? host.block("x16", nTok * cols * 2) : 0;
  const scratchBytes = host.qmatmulScratchBytes(cols);
  // the activations quantized in the kernel memory (the same codes as quantizeQ8_0 / quantizeQ8_K)
  const xf = host.block("x32", nTok * cols * 4);
  host.f32().set(x.subarray(0, nTok * cols), xf / 4);
  (kind === "q8_0" ? host.quantizeQ8_0 : host.quantizeQ8_K)(xf, nTok * cols, xq, xd, xb, x16);
  const parallel = parallelThreads(nTok, rows, cols, threads);
  host.run(
    {
      kind: "qmatmul",
      type: w.type,
      w: wOff,
      rowBytes: w.rowBytes,
      cols,
      rows,
      x: xq,
      xd,
      xb,
      nTok,
      out: o,
      ldo: rows,
      scratchBytes,
      x16,
      exact: exact ? 1 : 0,
    },
    parallel,
  );
  out.set(new Float32Array(host.memory.buffer, o, nTok * rows));
  return true;
}

/** Shared with the f32 path: whether a matmul of this size is worth the workers. */
export function parallelThreads(nTok: number, rows: number, cols: number, threads: number): number {
  return nTok * rows * cols >= PARALLEL_MIN_MACS ? threads : 1;
}
