/**
 * GPTQ's solve workspace in WebAssembly memory: the inverse-Hessian factor, the transposed weight and the block
 * errors live in one instance of the kernels of assembly/gptq-kernels.ts (embedded in gptq-kernels.wasm.ts), so the
 * blocked Cholesky, the triangular inverse and the lazy update run in f64x2 SIMD without copying the matrices per
 * call. One instance per workspace, sized once: its views stay valid for its life, and its memory goes with it.
 */
import { WASM } from "../ggml/wasm-kernels.js";
import { GPTQ_KERNELS_WASM_BASE64 } from "./gptq-kernels.wasm.js";

interface KernelExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  choleskyLower(A: number, n: number, T: number): number;
  invertLower(L: number, n: number, T: number): void;
  subtractRankOne(WT: number, rows: number, err: number, U: number, n: number, i: number, k0: number, k1: number): void;
  subtractBlockErrors(WT: number, rows: number, Err: number, U: number, n: number, i1: number, i2: number, T: number): void;
}

/** Panel width of the blocked factorizations in assembly/gptq-kernels.ts (NB there). */
const NB = 64;
const PAGE = 65536;

let compiled: object | undefined;

export interface GptqWorkspace {
  /** After `factorInverse`: the upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U), row-major [cols × cols]. */
  readonly Hinv: Float64Array;
  /** The transposed weight [cols × rows] (input column contiguous), updated in place by the error feedback. */
  readonly WT: Float64Array;
  /** One block's scaled errors, [blockSize × rows]. */
  readonly Err: Float64Array;
  /** The current column's scaled errors [rows]. */
  readonly err: Float64Array;
  /**
   * Hinv ← upper Cholesky factor of (H + damp·I)⁻¹, as cholesky.ts's upperCholeskyOfInverse (J·H·J = M·Mᵀ, U = J·M⁻¹·J)
   * with blocked kernels. False when H + damp·I is not positive definite.
   */
  factorInverse(H: Float64Array, damp: number): boolean;
  /** WT[k, :] −= Hinv[i, k]·err for k in [k0, k1). */
  subtractRankOne(i: number, k0: number, k1: number): void;
  /** WT[k, :] −= Σ_{j ∈ [i1, i2)} Hinv[j, k]·Err[j − i1, :] for k ≥ i2. */
  subtractBlockErrors(i1: number, i2: number): void;
}

/** A workspace for one Linear of W [rows × cols] solved with lazy blocks of `blockSize` columns. */
export function createGptqWorkspace(rows: number, cols: number, blockSize: number): GptqWorkspace {
  compiled ??= new WASM.Module(Buffer.from(GPTQ_KERNELS_WASM_BASE64, "base64"));
  const k = new WASM.Instance(compiled, {}).exports as KernelExports;
  const n = cols;
  const f64 = 8;
  const hinvPtr = (k.heapBase() + 15) & ~15;
  const wtPtr = hinvPtr + n * n * f64;
  const errBlockPtr = wtPtr + n * rows * f64;
  const errPtr = errBlockPtr + blockSize * rows * f64;
  const scratchPtr = errPtr + rows * f64;
  const end = scratchPtr + Math.max(2 * NB * n + 5 * NB, n * blockSize + blockSize * (rows + 4)) * f64;
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / PAGE));
  const mem = k.memory.buffer;
  const Hinv = new Float64Array(mem, hinvPtr, n * n);
  return {
    Hinv,
    WT: new Float64Array(mem, wtPtr, n * rows),
    Err: new Float64Array(mem, errBlockPtr, blockSize * rows),
    err: new Float64Array(mem, errPtr, rows),
    factorInverse(H, damp) {
      // A = J·(H + damp·I)·J, lower triangle only.
      for (let i = 0; i < n; i++) {
        // A[i, 0..i] = H[n−1−i, n−1..n−1−i]: a reversed row slice
        const src = (n - 1 - i) * n + n - 1 - i;
        const row = Hinv.subarray(i * n, i * n + i + 1);
        row.set(H.subarray(src, src + i + 1));
        row.reverse();
        Hinv[i * n + i] += damp;
      }
      if (k.choleskyLower(hinvPtr, n, scratchPtr) === 0) return false;
      k.invertLower(hinvPtr, n, scratchPtr);
      Hinv.reverse(); // U[i, j] = M⁻¹[n−1−i, n−1−j]
      for (let i = 0; i < n; i++) if (!(Hinv[i * n + i] > 0) || !Number.isFinite(Hinv[i * n + i])) return false;
      return true;
    },
    subtractRankOne(i, k0, k1) {
      k.subtractRankOne(wtPtr, rows, errPtr, hinvPtr, n, i, k0, k1);
    },
    subtractBlockErrors(i1, i2) {
      k.subtractBlockErrors(wtPtr, rows, errBlockPtr, hinvPtr, n, i1, i2, scratchPtr);
    },
  };
}
