/**
 * y = x · Wᵀ for a batch of activation rows: `out[t·rows + r] = Σ_c W[r, c] · x[t·cols + c]`.
 * Weights are decoded a block of rows at a time into a reused scratch buffer (dequantize-on-the-fly, never a full
 * f32 copy of the tensor), then each decoded block is dotted with every activation row.
 * `matmul` runs the WASM SIMD kernel (f32 accumulation in four lanes) when WebAssembly SIMD is available;
 * `matmulJs` is the plain reference (f64 accumulation) it is tested against. `matmulGgml` is llama.cpp's
 * quantized-activation matmul (integer block dots, `int-matmul.ts`).
 */
import type { WeightMatrix } from "./weight-matrix.js";
import { decodeRow } from "./weight-matrix.js";
import { wasmHost, wasmHostUnavailable, type KernelVariant, type WasmHost } from "./wasm-host.js";
import { intMatmul, parallelThreads } from "./int-matmul.js";
import { ggmlActivationsFor } from "./ggml-activations.js";

/**
 * The f32 WASM gemm over the shared memory: F32 weights already there are used in place, split over `threads`;
 * other types are decoded a block of rows at a time into a scratch block (one thread).
 */
function gemmWasm(host: WasmHost, w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array, threads: number): void {
  const { rows, cols } = w;
  const xOff = host.block("x32", nTok * cols * 4);
  const oOff = host.block("out", nTok * rows * 4);
  if (w.f32 && host.holds(w.data)) {
    host.f32().set(x.subarray(0, nTok * cols), xOff / 4);
    host.run(
      {
        kind: "gemm",
        type: w.type,
        w: w.data.byteOffset,
        rowBytes: cols * 4,
        cols,
        rows,
        x: xOff,
        xd: 0,
        xb: 0,
        nTok,
        out: oOff,
        ldo: rows,
        scratchBytes: 0,
        x16: 0,
        exact: 0,
      },
      parallelThreads(nTok, rows, cols, threads),
    );
  } else {
    const block = Math.max(4, Math.floor(16384 / cols) * 4);
    const wOff = host.block("w32", block * cols * 4);
    const mem = host.f32();
    mem.set(x.subarray(0, nTok * cols), xOff / 4);
    const wf = w.f32;
    for (let r = 0; r < rows; r += block) {
      const nr = Math.min(block, rows - r);
      if (wf) mem.set(wf.subarray(r * cols, (r + nr) * cols), wOff / 4);
      else for (let i = 0; i < nr; i++) decodeRow(w, r + i, mem.subarray(wOff / 4 + i * cols, wOff / 4 + (i + 1) * cols));
      host.gemm(wOff, xOff, oOff + r * 4, nr, cols, nTok, rows);
    }
  }
  out.set(new Float32Array(host.memory.buffer, oOff, nTok * rows));
}

/**
 * Which kernel `matmul` runs for rows whose length is a multiple of 4: "wasm-simd", or "js" with the reason the
 * WASM module could not be used (so a test comparing the two kernels can prove it is not comparing JS with JS).
 */
export function matmulKernel(): { readonly kernel: "wasm-simd"; readonly variant: KernelVariant } | { readonly kernel: "js"; readonly reason: string } {
  const reason = wasmHostUnavailable();
  const host = wasmHost();
  return reason === undefined && host ? { kernel: "wasm-simd", variant: host.variant } : { kernel: "js", reason: reason ?? "no WASM host" };
}

let scratch = new Float32Array(0);

function scratchFor(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

function checkShapes(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array): void {
  const { rows, cols } = w;
  if (x.length < nTok * cols) throw new RangeError(`matmul: x holds ${x.length} floats, need ${nTok}×${cols}`);
  if (out.length < nTok * rows) throw new RangeError(`matmul: out holds ${out.length} floats, need ${nTok}×${rows}`);
}

/** Matrix-matrix product for `nTok` activation rows in f32. `out` must hold nTok × w.rows floats. */
export function matmul(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array, threads = 1): void {
  checkShapes(w, x, nTok, out);
  const host = wasmHost();
  if (host && w.cols % 4 === 0) {
    gemmWasm(host, w, x, nTok, out, threads);
    return;
  }
  matmulJs(w, x, nTok, out);
}

/**
 * The matmul llama.cpp's CPU backend computes, up to float summation order (`ggmlNumerics: true`): integer block
 * dots over 8-bit activations for Q4_0…Q8_0 and Q2_K…Q6_K weights, activations rounded to the weight's
 * vec_dot_type (F16, BF16, …) then the f32 kernel for every other type.
 */
export function matmulGgml(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array, threads = 1): void {
  checkShapes(w, x, nTok, out);
  const host = wasmHost();
  if (host && intMatmul(host, w, x, nTok, out, threads)) return;
  matmul(w, ggmlActivationsFor(w.type, x, nTok, w.cols), nTok, out, threads);
}

/** Plain-JS reference kernel (f64 accumulation, four rows per decoded block). */
export function matmulJs(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array): void {
  const { rows, cols } = w;
  const f32 = w.f32;
  const buf = f32 ? null : scratchFor(4 * cols);
  const src = f32 ?? buf!;
  for (let r = 0; r < rows; r += 4) {
    const nr = Math.min(4, rows - r);
    let b0 = 0,
      b1 = cols,
      b2 = 2 * cols,
      b3 = 3 * cols;
    if (f32) {
      b0 = r * cols;
      b1 = b0 + cols;
      b2 = b1 + cols;
      b3 = b2 + cols;
    } else {
      for (let i = 0; i < nr; i++) decodeRow(w, r + i, buf!.subarray(i * cols, (i + 1) * cols));
    }
    if (nr === 4) {
      for (let t = 0; t < nTok; t++) {
        const xo = t * cols;
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let c = 0; c < cols; c++) {
          const xv = x[xo + c];
          s0 += src[b0 + c] * xv;
          s1 += src[b1 + c] * xv;
          s2 += src[b2 + c] * xv;
          s3 += src[b3 + c] * xv;
        }
        const o = t * rows + r;
        out[o] = s0;
        out[o + 1] = s1;
        out[o + 2] = s2;
        out[o + 3] = s3;
      }
    } else {
      for (let i = 0; i < nr; i++) {
        const b = b0 + i * cols;
        for (let t = 0; t < nTok; t++) {
          const xo = t * cols;
          let s = 0;
          for (let c = 0; c < cols; c++) s += src[b + c] * x[xo + c];
          out[t * rows + r + i] = s;
        }
      }
    }
  }
}
