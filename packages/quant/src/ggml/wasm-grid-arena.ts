/**
 * The search grids of the grid i-quants in the WebAssembly module's grid arena (see assembly/ggml-kernels.ts,
 * gridNeighbour): built from the same SearchGrid the TypeScript reference uses, copied in once per instance.
 */
import { GGMLType } from "@moeq/formats";
import type { SearchGrid } from "./iquant-search-grid.js";
import { iq1SearchGrid } from "./iq1.js";
import { iq2SearchGrid } from "./iq2.js";
import { iq3SearchGrid } from "./iq3.js";

/** The module exports placeGridOf uses. */
export interface GridArenaKernels {
  readonly memory: { readonly buffer: ArrayBuffer };
  gridArena(k: number): number;
  setGridPlace(slot: number, coords: number, map: number, nb: number, pool: number, tpool: number): void;
  gridPlaced(slot: number): number;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

/** The grid slot of each grid type in the module (setGridPlace), with its search grid and the levels it uses. */
function gridSlotOf(type: GGMLType): { slot: number; grid: () => SearchGrid } | undefined {
  switch (type) {
    case GGMLType.IQ2_XXS:
      return { slot: 0, grid: () => iq2SearchGrid(256) };
    case GGMLType.IQ2_XS:
      return { slot: 1, grid: () => iq2SearchGrid(512) };
    case GGMLType.IQ2_S:
      return { slot: 2, grid: () => iq2SearchGrid(1024) };
    case GGMLType.IQ3_XXS:
      return { slot: 3, grid: () => iq3SearchGrid(256) };
    case GGMLType.IQ3_S:
      return { slot: 4, grid: () => iq3SearchGrid(512) };
    case GGMLType.IQ1_S:
    case GGMLType.IQ1_M:
      return { slot: 5, grid: iq1SearchGrid };
    default:
      return undefined;
  }
}

/** Bytes of each module instance's grid arena already holding grids (grids are placed per instance). */
const arenaUsed = new WeakMap<GridArenaKernels, number>();

/** The padded neighbour lists of every off-grid level vector with levels below kMaxQ, and each vector's nb word. */
function paddedLists(sg: SearchGrid): { lists: Uint16Array[]; nbWords: Uint32Array; poolLen: number } {
  const bits = sg.dims === 8 ? 2 : 3;
  const mask = (1 << bits) - 1;
  const lists: Uint16Array[] = [];
  const nbWords = new Uint32Array(sg.map.length);
  let poolLen = 0;
  for (let u = 0; u < sg.map.length; u++) {
    if (sg.map[u] >= 0) continue;
    let valid = true;
    for (let i = 0; i < sg.dims; i++) if (((u >> (bits * i)) & mask) >= sg.kMaxQ) valid = false;
    if (!valid) continue;
    const list = sg.neighbours(u);
    if (list.length === 0 || list.length > 511) throw new Error(`i-quant grid: a neighbour list of ${list.length} points does not fit the module's encoding`);
    const padded = new Uint16Array((list.length + 3) & ~3).fill(list[list.length - 1]);
    padded.set(list);
    nbWords[u] = (poolLen << 9) | list.length;
    lists.push(padded);
    poolLen += padded.length;
  }
  return { lists, nbWords, poolLen };
}

/** How tpool holds a candidate's coordinate c = 2·level + 1 (see placeGridOf). */
type TpoolFormat = "f32" | "spread" | "byte";

/** Bytes per candidate coordinate in each format. */
const TPOOL_BYTES: Readonly<Record<TpoolFormat, number>> = { f32: 4, spread: 4, byte: 1 };

/** Writes the transposed coordinates of the padded lists (`at` candidates in, per 4: [coordinate][candidate]). */
function writeTpool(mem: ArrayBuffer, tpool: number, sg: SearchGrid, lists: readonly Uint16Array[], poolLen: number, format: TpoolFormat): void {
  const { dims, grid } = sg;
  const bytes = new Int8Array(mem, tpool, TPOOL_BYTES[format] * dims * poolLen);
  const floats = new Float32Array(mem, tpool, format === "f32" ? dims * poolLen : 0);
  let at = 0;
  for (const list of lists) {
    for (let j = 0; j < list.length; j += 4) {
      for (let i = 0; i < dims; i++) {
        for (let l = 0; l < 4; l++) {
          const c = grid[dims * list[j + l] + i];
          const slot = dims * (at + j) + 4 * i + l;
          if (format === "f32") floats[slot] = c;
          else if (format === "byte") bytes[slot] = 2 * (c - 1);
          else for (let b = 0; b < 4; b++) bytes[4 * slot + b] = 2 * (c - 1) + b;
        }
      }
    }
    at += list.length;
  }
}

/**
 * Places the grid of a grid type in the module's arena, once per instance (as ggml_quantize_init builds it once):
 * coordinates, kmap, and every neighbour list a level vector with levels below kMaxQ can ask for, each padded to a
 * multiple of 4 with copies of its last point (which never win C's strict `<`); nb holds offset << 9 | length per
 * vector, the pool the u16 grid indices, tpool per 4 points their coordinates transposed ([coordinate][point]):
 * IQ3 as f32 coordinates, IQ2 as the 4 bytes 4·level + 0…3 (byte indices into the module's per-search term table),
 * IQ1 as the one byte 4·level.
 */
export function placeGridOf(k: GridArenaKernels, type: GGMLType): void {
  const place = gridSlotOf(type);
  if (!place || k.gridPlaced(place.slot)) return;
  const sg = place.grid();
  const { lists, nbWords, poolLen } = paddedLists(sg);
  const format: TpoolFormat = sg.dims === 4 ? "f32" : place.slot <= 2 ? "spread" : "byte";
  const base = k.gridArena(0);
  const coords = base + (arenaUsed.get(k) ?? 0);
  const map = align16(coords + sg.grid.length);
  const nb = map + 4 * sg.map.length;
  const pool = nb + 4 * sg.map.length;
  const tpool = align16(pool + 2 * poolLen);
  const end = align16(tpool + TPOOL_BYTES[format] * sg.dims * poolLen);
  if (end - base > k.gridArena(1)) throw new Error("i-quant grids do not fit the WebAssembly grid arena");
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
  writeTpool(mem, tpool, sg, lists, poolLen, format);
  arenaUsed.set(k, end - base);
  k.setGridPlace(place.slot, coords, map, nb, pool, tpool);
}
