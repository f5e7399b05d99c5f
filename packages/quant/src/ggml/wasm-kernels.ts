/**
 * The fast path behind `quantize`: the AssemblyScript port of the codecs (assembly/ggml-kernels.ts), compiled to
 * WebAssembly and embedded in ggml-kernels.wasm.ts. WebAssembly f32 arithmetic is binary32 without contraction,
 * so it produces ggml's bytes directly (tests check it against libggml-base.so, like the TypeScript reference).
 * Rows are streamed through linear memory in chunks of about 256 KiB (cache-sized; one row at least), so memory stays bounded for any tensor.
 */
import { GGMLType } from "@moeq/formats";
import { GGML_KERNELS_WASM_BASE64 } from "./ggml-kernels.wasm.js";
import { type ScaleSearch, block } from "./iquant-scale-search.js";
import type { SearchGrid } from "./iquant-search-grid.js";
import { iq1mBlockState, iq1mSplit } from "./iq1.js";
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
  gridSearchMemory(k: number): number;
  iq1mMemory(k: number): number;
  iq1mSplitSearch(max: number): void;
  gridSearch(
    coords: number,
    map: number,
    nb: number,
    pool: number,
    dims: number,
    n: number,
    kMaxQ: number,
    nsteps: number,
    step: number,
    refit: number,
    base: number,
    scale: number,
  ): number;
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

/** Types the WebAssembly kernels quantize: the above, IQ4_NL / IQ4_XS, the ternary and the fp4 types. */
export const WASM_QUANT_TYPES: ReadonlySet<GGMLType> = new Set([
  ...WASM_TYPES,
  GGMLType.IQ4_NL,
  GGMLType.IQ4_XS,
  GGMLType.TQ1_0,
  GGMLType.TQ2_0,
  GGMLType.MXFP4,
  GGMLType.NVFP4,
]);

/** Types the WebAssembly kernels dequantize: the above and the grid i-quants. */
export const WASM_DEQUANT_TYPES: ReadonlySet<GGMLType> = new Set([
  ...WASM_QUANT_TYPES,
  ...[GGMLType.IQ1_S, GGMLType.IQ1_M, GGMLType.IQ2_XXS, GGMLType.IQ2_XS, GGMLType.IQ2_S, GGMLType.IQ3_XXS, GGMLType.IQ3_S],
]);

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
    else if (k.quantize(type, srcPtr, rows, nPerRow, imatrix ? imPtr : 0, dstPtr) !== 0) {
      throw new Error(`ggml wasm kernels do not handle type ${type}`);
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

/** Where a search grid sits in the module's grid arena. */
interface PlacedGrid {
  readonly coords: number;
  readonly map: number;
  readonly nb: number;
  readonly pool: number;
}

const placedGrids = new Map<SearchGrid, PlacedGrid>();
let arenaUsed = 0;

/**
 * Copies a search grid into the module's arena: coordinates, kmap, and every neighbour list a level vector with
 * levels below kMaxQ can ask for (computed up front, as ggml's init does), as pool offset << 9 | length per vector.
 */
function placeGrid(k: KernelExports, sg: SearchGrid, kMaxQ: number): PlacedGrid {
  const have = placedGrids.get(sg);
  if (have) return have;
  const bits = sg.dims === 8 ? 2 : 3;
  const mask = (1 << bits) - 1;
  const lists: Uint16Array[] = [];
  const nbWords = new Uint32Array(sg.map.length);
  let poolLen = 0;
  for (let u = 0; u < sg.map.length; u++) {
    if (sg.map[u] >= 0) continue;
    let valid = true;
    for (let i = 0; i < sg.dims; i++) if (((u >> (bits * i)) & mask) >= kMaxQ) valid = false;
    if (!valid) continue;
    const list = sg.neighbours(u);
    if (list.length > 511) throw new Error(`i-quant grid: neighbour list of ${list.length} points does not fit the module's encoding`);
    nbWords[u] = (poolLen << 9) | list.length;
    lists.push(list);
    poolLen += list.length;
  }
  const base = k.gridSearchMemory(0);
  const coords = base + arenaUsed;
  const map = align16(coords + sg.grid.length);
  const nb = map + 4 * sg.map.length;
  const pool = nb + 4 * sg.map.length;
  const end = align16(pool + 2 * poolLen);
  if (end - base > k.gridSearchMemory(6)) throw new Error("i-quant grids do not fit the WebAssembly grid arena");
  const mem = k.memory.buffer;
  new Int8Array(mem, coords, sg.grid.length).set(sg.grid);
  new Int32Array(mem, map, sg.map.length).set(sg.map);
  new Uint32Array(mem, nb, sg.map.length).set(nbWords);
  const poolView = new Uint16Array(mem, pool, poolLen);
  let at = 0;
  for (const list of lists) {
    poolView.set(list, at);
    at += list.length;
  }
  arenaUsed = end - base;
  const placed = { coords, map, nb, pool };
  placedGrids.set(sg, placed);
  return placed;
}

const REFIT_CODE = { "off-grid": 0, "all-if-off-grid": 1, all: 2 } as const;

/**
 * searchScale (iquant-scale-search.ts) in WebAssembly: the block's xval / weight / waux and initial levels go in,
 * the levels come back into block.L. Same float32 operations in the same order, so the same scale and levels.
 */
export function searchScaleWasm(s: ScaleSearch, base: number, scale: number): number {
  const k = load();
  const g = placeGrid(k, s.grid, s.kMaxQ);
  const v = searchViews(k);
  // the whole 32-element arrays: the module writes levels only below n, so L[n…] comes back unchanged
  v.xval.set(block.xval);
  v.weight.set(block.weight);
  v.waux.set(block.waux);
  v.L.set(block.L);
  const found = k.gridSearch(g.coords, g.map, g.nb, g.pool, s.grid.dims, s.n, s.kMaxQ, s.nsteps, s.step, REFIT_CODE[s.refit], base, scale);
  if (v.err[0] !== 0) throw new Error("i-quant neighbour search found no grid point (NaN input?)");
  block.L.set(v.L);
  return found;
}

interface SearchViews {
  readonly buffer: ArrayBuffer;
  readonly xval: Float32Array;
  readonly weight: Float32Array;
  readonly waux: Float32Array;
  readonly L: Int8Array;
  readonly err: Int32Array;
}

let views: SearchViews | undefined;

/** Views on the search scratch arrays, rebuilt when the module's memory has grown (which detaches the old ones). */
function searchViews(k: KernelExports): SearchViews {
  const buffer = k.memory.buffer;
  if (views?.buffer !== buffer) {
    views = {
      buffer,
      xval: new Float32Array(buffer, k.gridSearchMemory(1), 32),
      weight: new Float32Array(buffer, k.gridSearchMemory(2), 32),
      waux: new Float32Array(buffer, k.gridSearchMemory(3), 32),
      L: new Int8Array(buffer, k.gridSearchMemory(4), 32),
      err: new Int32Array(buffer, k.gridSearchMemory(5), 1),
    };
  }
  return views;
}

interface Iq1mViews {
  readonly buffer: ArrayBuffer;
  readonly x: Float32Array;
  readonly weight: Float32Array;
  readonly order: Uint8Array;
  readonly out: Int32Array;
  readonly scale: Float32Array;
}

let iq1mViews: Iq1mViews | undefined;

/** IQ1_M's split search (iq1.ts) in WebAssembly: the four sign patterns in four lanes, same sums and choice. */
export function iq1mSplitSearchWasm(x: Float32Array, xb: number, max: number): void {
  const k = load();
  const buffer = k.memory.buffer;
  if (iq1mViews?.buffer !== buffer) {
    const out = k.iq1mMemory(3);
    iq1mViews = {
      buffer,
      x: new Float32Array(buffer, k.iq1mMemory(0), 16),
      weight: new Float32Array(buffer, k.iq1mMemory(1), 16),
      order: new Uint8Array(buffer, k.iq1mMemory(2), 16),
      out: new Int32Array(buffer, out, 3),
      scale: new Float32Array(buffer, out + 12, 1),
    };
  }
  const v = iq1mViews;
  const { weight, order } = iq1mBlockState;
  for (let i = 0; i < 16; i++) {
    v.x[i] = x[xb + i];
    v.weight[i] = weight[i];
    v.order[i] = order[i];
  }
  k.iq1mSplitSearch(max);
  iq1mSplit.i1 = v.out[0];
  iq1mSplit.i2 = v.out[1];
  iq1mSplit.k = v.out[2];
  iq1mSplit.scale = v.scale[0];
}
