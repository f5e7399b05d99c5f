/**
 * y = x · Wᵀ for a batch of activation rows: `out[t·rows + r] = Σ_c W[r, c] · x[t·cols + c]`.
 * Weights are decoded a block of rows at a time into a reused scratch buffer (dequantize-on-the-fly, never a full
 * f32 copy of the tensor), then each decoded block is dotted with every activation row.
 * `matmul` runs the WASM SIMD kernel (f32 accumulation in four lanes) when WebAssembly SIMD is available;
 * `matmulJs` is the plain reference (f64 accumulation) it is tested against.
 */
import type { WeightMatrix } from "./weight-matrix.js";
import { decodeRow } from "./weight-matrix.js";
import { GEMM_WASM_BASE64 } from "./gemm-wasm.js";

type GemmFn = (w: number, x: number, out: number, rows: number, cols: number, nTok: number, ldo: number) => void;

/** The slice of the WebAssembly JS API we use (lib ES2023 without DOM has no typings for it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The instantiated kernel and its memory; views are rebuilt whenever the memory grows. */
class WasmGemm {
  private f32: Float32Array;
  constructor(
    private readonly memory: WasmMemory,
    private readonly fn: GemmFn,
  ) {
    this.f32 = new Float32Array(memory.buffer);
  }

  /** The kernel, or null with the reason in `wasmUnavailable` (no WebAssembly, or the module failed to load). */
  static create(): WasmGemm | null {
    if (!WA) {
      wasmUnavailable = "this JavaScript engine has no WebAssembly";
      return null;
    }
    try {
      const memory = new WA.Memory({ initial: 64 });
      const mod = new WA.Module(Buffer.from(GEMM_WASM_BASE64, "base64"));
      const abort = () => {
        throw new Error("wasm abort");
      };
      const inst = new WA.Instance(mod, { env: { memory, abort } });
      return new WasmGemm(memory, inst.exports.gemm as GemmFn);
    } catch (err) {
      // e.g. no WebAssembly SIMD: matmul falls back to matmulJs, and matmulKernel() says so and why.
      wasmUnavailable = `the WASM SIMD module failed to load: ${err instanceof Error ? err.message : String(err)}`;
      return null;
    }
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
    if (this.f32.buffer !== this.memory.buffer || this.f32.length * 4 !== this.memory.buffer.byteLength) this.f32 = new Float32Array(this.memory.buffer);
  }

  run(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array): void {
    const { rows, cols } = w;
    const block = Math.max(4, Math.floor(16384 / cols) * 4);
    const base = 1024; // bytes reserved below our buffers (AS stub runtime uses none, keep a guard)
    const xOff = base;
    const wOff = xOff + nTok * cols * 4;
    const oOff = wOff + block * cols * 4;
    this.ensure(oOff + nTok * rows * 4);
    const mem = this.f32;
    mem.set(x.subarray(0, nTok * cols), xOff / 4);
    const wf = w.f32;
    for (let r = 0; r < rows; r += block) {
      const nr = Math.min(block, rows - r);
      if (wf) mem.set(wf.subarray(r * cols, (r + nr) * cols), wOff / 4);
      else for (let i = 0; i < nr; i++) decodeRow(w, r + i, mem.subarray(wOff / 4 + i * cols, wOff / 4 + (i + 1) * cols));
      this.fn(wOff, xOff, oOff + r * 4, nr, cols, nTok, rows);
    }
    out.set(mem.subarray(oOff / 4, oOff / 4 + nTok * rows));
  }
}

let wasm: WasmGemm | null | undefined;
let wasmUnavailable: string | undefined;

/**
 * Which kernel `matmul` runs for rows whose length is a multiple of 4: "wasm-simd", or "js" with the reason the
 * WASM module could not be used (so a test comparing the two kernels can prove it is not comparing JS with JS).
 */
export function matmulKernel(): { readonly kernel: "wasm-simd" } | { readonly kernel: "js"; readonly reason: string } {
  if (wasm === undefined) wasm = WasmGemm.create();
  return wasm ? { kernel: "wasm-simd" } : { kernel: "js", reason: wasmUnavailable ?? "unknown" };
}

let scratch = new Float32Array(0);

function scratchFor(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

/** Matrix-matrix product for `nTok` activation rows. `out` must hold nTok × w.rows floats. */
export function matmul(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array): void {
  const { rows, cols } = w;
  if (x.length < nTok * cols) throw new RangeError(`matmul: x holds ${x.length} floats, need ${nTok}×${cols}`);
  if (out.length < nTok * rows) throw new RangeError(`matmul: out holds ${out.length} floats, need ${nTok}×${rows}`);
  if (wasm === undefined) wasm = WasmGemm.create();
  if (wasm && cols % 4 === 0) {
    wasm.run(w, x, nTok, out);
    return;
  }
  matmulJs(w, x, nTok, out);
}

/** Plain-JS reference kernel (f64 accumulation, four rows per decoded block). */
export function matmulJs(w: WeightMatrix, x: Float32Array, nTok: number, out: Float32Array): void {
  const { rows, cols } = w;
  const f32 = w.f32;
  const buf = f32 ? null : scratchFor(4 * cols);
  const src = f32 ?? buf!;
  for (let r = 0; r < rows; r += 4) {
    const nr = Math.min(4, rows - r);
    let b0 = 0, b1 = cols, b2 = 2 * cols, b3 = 3 * cols;
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
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
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
