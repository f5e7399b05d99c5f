/**
 * The search grids of ggml's i-quants, as iq2xs_init_impl / iq3xs_init_impl (ggml-quants.c) build them when
 * ggml_quantize_init runs: every point of a compressed kgrid becomes `dims` int8 coordinates 2·level + 1; `map`
 * sends each packed level vector (bitsPerLevel bits per coordinate) to its grid index, or −1 when it is off the grid.
 * An off-grid vector's neighbour list holds the grid points at the `nwant` smallest squared distances, ordered by
 * (distance, index) as ggml's qsort with iq2_compare_func orders them. ggml computes every list up front (seconds for
 * the 2048-point IQ1 grid); each list depends only on its vector, so we compute a list the first time it is asked
 * for and keep it: the same lists, for the vectors a run actually meets.
 */

export interface SearchGrid {
  /** Coordinates of each grid point, `dims` per point: 2·level + 1. */
  readonly grid: Int8Array;
  readonly dims: number;
  /** Levels the grid's points use (0…kMaxQ−1; IQ2/IQ1: 3, IQ3: 8), read off the points themselves. */
  readonly kMaxQ: number;
  /** kmap: packed levels → grid index, or −1 for a vector off the grid. */
  readonly map: Int32Array;
  /** The neighbour list (grid indices) of an off-grid packed level vector. */
  neighbours(u: number): Uint16Array;
}

export function buildSearchGrid(kgrid: Uint16Array, dims: number, bitsPerLevel: number, mapSize: number, nwant: number): SearchGrid {
  const gridSize = kgrid.length;
  const mask = (1 << bitsPerLevel) - 1;
  const grid = new Int8Array(gridSize * dims);
  for (let k = 0; k < gridSize; k++) {
    for (let i = 0; i < dims; i++) grid[k * dims + i] = 2 * ((kgrid[k] >> (bitsPerLevel * i)) & mask) + 1;
  }
  const map = new Int32Array(mapSize).fill(-1);
  for (let k = 0; k < gridSize; k++) {
    let index = 0;
    for (let i = 0; i < dims; i++) index |= ((grid[k * dims + i] - 1) >> 1) << (bitsPerLevel * i);
    map[index] = k;
  }
  const cache: (Uint16Array | undefined)[] = new Array<Uint16Array | undefined>(mapSize).fill(undefined);
  const d2 = new Int32Array(gridSize);
  const pos = new Int8Array(dims);
  function neighbours(u: number): Uint16Array {
    const hit = cache[u];
    if (hit) return hit;
    for (let k = 0; k < dims; k++) pos[k] = 2 * ((u >> (bitsPerLevel * k)) & mask) + 1;
    // the nwant smallest distinct distances, then every point at those distances by (distance, index)
    const wanted: number[] = [];
    for (let j = 0; j < gridSize; j++) {
      let s = 0;
      for (let k = 0; k < dims; k++) {
        const diff = grid[j * dims + k] - pos[k];
        s += diff * diff;
      }
      d2[j] = s;
      if ((wanted.length < nwant || s < wanted[wanted.length - 1]) && !wanted.includes(s)) {
        wanted.push(s);
        wanted.sort((a, b) => a - b);
        if (wanted.length > nwant) wanted.pop();
      }
    }
    const list: number[] = [];
    for (const dist of wanted) for (let j = 0; j < gridSize; j++) if (d2[j] === dist) list.push(j);
    const out = Uint16Array.from(list);
    cache[u] = out;
    return out;
  }
  let kMaxQ = 0;
  for (const c of grid) kMaxQ = Math.max(kMaxQ, ((c - 1) >> 1) + 1);
  return { grid, dims, kMaxQ, map, neighbours };
}

const fr = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

/**
 * iq2_find_best_neighbour / iq3_find_best_neighbour: among the neighbours of off-grid vector u the grid point
 * of least Σ w·(scale·q − x)² (float32, first on ties); writes its levels (q − 1)/2 to L[lo…] and returns its index.
 */
export function findBestNeighbour(
  sg: SearchGrid,
  u: number,
  xval: Float32Array,
  xo: number,
  weight: Float32Array,
  wo: number,
  scale: number,
  L: Int8Array,
  lo: number,
): number {
  const { grid, dims } = sg;
  const list = sg.neighbours(u);
  let bestD2 = FLT_MAX;
  let gridIndex = -1;
  for (let j = 0; j < list.length; j++) {
    const g = list[j];
    let d2 = 0;
    for (let i = 0; i < dims; i++) {
      const diff = fr(fr(scale * grid[g * dims + i]) - xval[xo + i]);
      d2 = fr(d2 + fr(fr(weight[wo + i] * diff) * diff));
    }
    if (d2 < bestD2) {
      bestD2 = d2;
      gridIndex = g;
    }
  }
  if (gridIndex < 0) throw new Error("i-quant neighbour search found no grid point (NaN input?)");
  for (let i = 0; i < dims; i++) L[lo + i] = (grid[gridIndex * dims + i] - 1) >> 1;
  return gridIndex;
}
