/**
 * The fast path behind `quantize`: the AssemblyScript port of the codecs (assembly/ggml-kernels.ts), compiled to
 * WebAssembly and embedded in ggml-kernels.wasm.ts. WebAssembly f32 arithmetic is binary32 without contraction,
 * so it produces ggml's bytes directly (tests check it against libggml-base.so, like the TypeScript reference).
 * Rows are streamed through linear memory in chunks of about 256 KiB (cache-sized; one row at least), so memory stays bounded for any tensor.
 */
import { GGMLType, ggmlTypeName } from "@moeq/formats";
import { GGML_KERNELS_WASM_BASE64 } from "./ggml-kernels.wasm.js";
import { placeGridOf } from "./wasm-grid-arena.js";
import { IQ1S_GRID, IQ2S_GRID, IQ2XS_GRID, IQ2XXS_GRID, IQ3S_GRID, IQ3XXS_GRID, KSIGNS_IQ2XS } from "./iquant-tables.generated.js";

/** The slice of the WebAssembly JS API used here (the ES2023 lib this repo compiles against does not declare it). */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
export const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface KernelExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  quantize(type: number, src: number, nrows: number, nPerRow: number, imatrix: number, dst: number): number;
  toF16(src: number, n: number, dst: number): void;
  dequantize(type: number, src: number, nb: number, dst: number): number;
  toBF16(src: number, n: number, dst: number): void;
  gridTable(k: number): number;
  gridArena(k: number): number;
  setGridPlace(slot: number, coords: number, map: number, nb: number, pool: number, tpool: number): void;
  gridPlaced(slot: number): number;
}

/** The tables the module reads, in the order of its gridTable(k): filled once per instance. */
const GRID_TABLES: readonly Uint8Array[] = [IQ2XXS_GRID, IQ2XS_GRID, IQ2S_GRID, IQ3XXS_GRID, IQ3S_GRID, IQ1S_GRID, KSIGNS_IQ2XS];

/** Types the WebAssembly kernels cover, in both directions (F32 stays a plain copy). */
// prettier-ignore
const WASM_TYPES: ReadonlySet<GGMLType> = new Set([
  GGMLType.F16,
  GGMLType.BF16,
  GGMLType.Q4_0,
  GGMLType.Q4_1,
  GGMLType.Q5_0,
  GGMLType.Q5_1,
  GGMLType.Q8_0,
  GGMLType.Q2_K,
  GGMLType.Q3_K,
  GGMLType.Q4_K,
  GGMLType.Q5_K,
  GGMLType.Q6_K,
]);

/** The grid i-quants. */
const GRID_TYPES: readonly GGMLType[] = [GGMLType.IQ1_S, GGMLType.IQ1_M, GGMLType.IQ2_XXS, GGMLType.IQ2_XS, GGMLType.IQ2_S, GGMLType.IQ3_XXS, GGMLType.IQ3_S];

/** Types the WebAssembly kernels quantize: the above, IQ4_NL / IQ4_XS, the ternary, the fp4 and the grid types. */
export const WASM_QUANT_TYPES: ReadonlySet<GGMLType> = new Set([
  ...WASM_TYPES,
  GGMLType.IQ4_NL,
  GGMLType.IQ4_XS,
  GGMLType.TQ1_0,
  GGMLType.TQ2_0,
  GGMLType.MXFP4,
  GGMLType.NVFP4,
  ...GRID_TYPES,
]);

/** Types the WebAssembly kernels dequantize: the same. */
export const WASM_DEQUANT_TYPES: ReadonlySet<GGMLType> = WASM_QUANT_TYPES;

/** Floats per call into the module (256 KiB): small enough that the copied rows are still in cache. */
const CHUNK_ELEMS = 1 << 16;
const PAGE = 65536;

let kernels: KernelExports | undefined;

function load(): KernelExports {
  if (!kernels) {
    const module = new WASM.Module(Buffer.from(GGML_KERNELS_WASM_BASE64, "base64"));
    const k = new WASM.Instance(module, {}).exports as KernelExports;
    GRID_TABLES.forEach((table, i) => new Uint8Array(k.memory.buffer, k.gridTable(i), table.length).set(table));
    kernels = k;
  }
  return kernels;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

function ensureMemory(k: KernelExports, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / PAGE));
}

/**
 * Quantizes like the TypeScript codec's quantizeRows, through the WebAssembly kernels. `rowBytes` is the
 * quantized size of one row. The caller has checked shapes and that WASM_QUANT_TYPES has the type.
 */
export function quantizeRowsWasm(
  type: GGMLType,
  src: Float32Array,
  srcOffset: number,
  nrows: number,
  nPerRow: number,
  imatrix: Float32Array | null,
  dst: Uint8Array,
  dstOffset: number,
  rowBytes: number,
): void {
  if (nrows === 0) return;
  const k = load();
  placeGridOf(k, type);
  const chunkRows = Math.max(1, Math.min(nrows, Math.floor(CHUNK_ELEMS / nPerRow)));
  const imPtr = align16(k.heapBase());
  const srcPtr = align16(imPtr + (imatrix ? nPerRow * 4 : 0));
  const dstPtr = align16(srcPtr + chunkRows * nPerRow * 4);
  ensureMemory(k, dstPtr + chunkRows * rowBytes);
  const mem = k.memory.buffer;
  if (imatrix) new Float32Array(mem, imPtr, nPerRow).set(imatrix);
  for (let r = 0; r < nrows; r += chunkRows) {
    const rows = Math.min(chunkRows, nrows - r);
    const n = rows * nPerRow;
    const from = srcOffset + r * nPerRow;
    new Float32Array(mem, srcPtr, n).set(src.subarray(from, from + n));
    if (type === GGMLType.F16) k.toF16(srcPtr, n, dstPtr);
    else if (type === GGMLType.BF16) k.toBF16(srcPtr, n, dstPtr);
    else {
      const rc = k.quantize(type, srcPtr, rows, nPerRow, imatrix ? imPtr : 0, dstPtr);
      if (rc === -2) throw new Error("i-quant: no grid point at a finite distance, or a group left off the grid (non-finite input?)");
      if (rc === -3) throw new Error(`${ggmlTypeName(type)} requires an importance matrix`);
      if (rc !== 0) throw new Error(`ggml wasm kernels do not handle type ${type}`);
    }
    dst.set(new Uint8Array(mem, dstPtr, rows * rowBytes), dstOffset + r * rowBytes);
  }
}

/**
 * Dequantizes `nBlocks` blocks of `blockSize` elements / `typeSize` bytes from src[srcOffset…] into
 * dst[dstOffset…] through the WebAssembly kernels, in chunks of about 256 KiB of output.
 */
export function dequantizeBlocksWasm(
  type: GGMLType,
  src: Uint8Array,
  srcOffset: number,
  nBlocks: number,
  blockSize: number,
  typeSize: number,
  dst: Float32Array,
  dstOffset: number,
): void {
  if (nBlocks === 0) return;
  const k = load();
  const chunkBlocks = Math.max(1, Math.min(nBlocks, Math.floor(CHUNK_ELEMS / blockSize)));
  const srcPtr = align16(k.heapBase());
  const dstPtr = align16(srcPtr + chunkBlocks * typeSize);
  ensureMemory(k, dstPtr + chunkBlocks * blockSize * 4);
  const mem = k.memory.buffer;
  for (let b = 0; b < nBlocks; b += chunkBlocks) {
    const blocks = Math.min(chunkBlocks, nBlocks - b);
    const from = srcOffset + b * typeSize;
    new Uint8Array(mem, srcPtr, blocks * typeSize).set(src.subarray(from, from + blocks * typeSize));
    if (k.dequantize(type, srcPtr, blocks, dstPtr) !== 0) throw new Error(`ggml wasm kernels do not dequantize type ${type}`);
    dst.set(new Float32Array(mem, dstPtr, blocks * blockSize), dstOffset + b * blockSize);
  }
}
