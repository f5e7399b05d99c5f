/**
 * The importance-matrix accumulator of llama-imatrix (tools/imatrix/imatrix.cpp, IMatrixCollector), fed by the
 * runtime's activation taps instead of ggml's cb_eval:
 * - dense matmuls (MUL_MAT): Σx² over every input row in f32, one count per tensor (+= rows);
 * - routed-expert matmuls (MUL_MAT_ID): Σx² per expert slice in f32 and one count per expert (+= rows routed);
 * - `load` combines an earlier file as load_imatrix does (GGUF: raw sums and counts added; legacy .dat: the
 *   stored mean·ncall and ncall multiplied back by the chunk size);
 * - `writeGguf` writes save_imatrix's GGUF (general.type = imatrix, imatrix.datasets / chunk_count / chunk_size,
 *   then per tensor in name order `NAME.in_sum2` [ne0, n_mat] and `NAME.counts` [1, n_mat], both F32).
 */
import { GGMLType, GGUFValueType, GGUFWriter, InputError, ggmlNDimsShape } from "@moeq/formats";
import type { RawImatrix } from "./imatrix.js";

/** Σx² and row counts of one weight (`counts.length` is 1 for a dense tensor, n_expert for an expert tensor). */
export interface TensorStats {
  readonly values: Float32Array;
  readonly counts: number[];
}

export class ImatrixStats {
  readonly stats = new Map<string, TensorStats>();
  /** Datasets of the files combined in (`--in-file`), in load order; the current data file is added on write. */
  readonly loadedDatasets: string[] = [];
  /** m_last_chunk: the chunk count written to imatrix.chunk_count. */
  lastChunk = 0;

  /** `chunkSize`: n_ctx / n_parallel, the imatrix.chunk_size of the run. */
  constructor(readonly chunkSize: number) {}

  private dense(name: string, nCols: number): TensorStats {
    let e = this.stats.get(name);
    // a single count per dense tensor (collect_imatrix collapses equal per-expert counts of an older file)
    if (e && e.counts.length > 1 && e.counts.every((c) => c === e!.counts[0])) e.counts.length = 1;
    if (!e) {
      e = { values: new Float32Array(nCols), counts: [0] };
      this.stats.set(name, e);
    } else if (e.values.length !== nCols) {
      throw new InputError("IMATRIX_SIZE", `inconsistent size for ${name} (${e.values.length} vs ${nCols})`);
    }
    return e;
  }

  /** MUL_MAT: rows [nRows × nCols] (row-major) of one dense weight's input. */
  addDense(name: string, rows: Float32Array, nRows: number, nCols: number): void {
    const e = this.dense(name, nCols);
    const acc = e.values;
    for (let r = 0; r < nRows; r++) {
      const off = r * nCols;
      for (let j = 0; j < nCols; j++) {
        const x = rows[off + j];
        acc[j] = Math.fround(acc[j] + Math.fround(x * x)); // two roundings: tools/ is built without FMA (no -march)
      }
    }
    for (let i = 0; i < e.counts.length; i++) e.counts[i] += nRows;
    assertFinite(name, acc, 0, acc.length);
  }

  /** MUL_MAT_ID: rows routed to `expert` of a [nCols, ·, nExperts] weight. */
  addExpert(name: string, nExperts: number, expert: number, rows: Float32Array, nRows: number, nCols: number): void {
    let e = this.stats.get(name);
    if (e && e.counts.length === 1 && nExperts > 1) {
      // broadcast, when loading an old imatrix
      const c = e.counts[0];
      e.counts.length = 0;
      for (let i = 0; i < nExperts; i++) e.counts.push(c);
    }
    if (!e) {
      e = { values: new Float32Array(nCols * nExperts), counts: new Array<number>(nExperts).fill(0) };
      this.stats.set(name, e);
    } else if (e.values.length !== nCols * nExperts) {
      throw new InputError("IMATRIX_SIZE", `inconsistent size for ${name} (${e.values.length} vs ${nCols * nExperts})`);
    } else if (e.counts.length !== nExperts) {
      throw new InputError("IMATRIX_SIZE", `inconsistent expert count for ${name} (${e.counts.length} vs ${nExperts})`);
    }
    const base = expert * nCols;
    const acc = e.values;
    for (let r = 0; r < nRows; r++) {
      const off = r * nCols;
      for (let j = 0; j < nCols; j++) {
        const x = rows[off + j];
        acc[base + j] = Math.fround(acc[base + j] + Math.fround(x * x));
      }
    }
    e.counts[expert] += nRows;
    if (nRows > 0) assertFinite(name, acc, base, base + nCols);
  }

  /** Adds an earlier imatrix (llama-imatrix `--in-file`, IMatrixCollector::load_imatrix). */
  load(file: RawImatrix, path: string): void {
    for (const [name, entry] of file.entries) {
      let e = this.stats.get(name);
      if (file.legacy) {
        if (!e) {
          e = { values: new Float32Array(entry.sums.length), counts: [0] };
          this.stats.set(name, e);
        }
        if (e.values.length !== entry.sums.length)
          throw new InputError("IMATRIX_MISMATCH", `mismatched sums size for ${name}: ${entry.sums.length} != ${e.values.length}`, { file: path });
        for (let j = 0; j < entry.sums.length; j++) e.values[j] = Math.fround(e.values[j] + Math.fround(entry.sums[j] * this.chunkSize));
        for (let j = 0; j < e.counts.length; j++) e.counts[j] += entry.counts[0] * this.chunkSize;
      } else {
        if (!e) {
          e = { values: new Float32Array(entry.sums.length), counts: [] };
          this.stats.set(name, e);
        } else if (e.values.length !== entry.sums.length) {
          throw new InputError("IMATRIX_MISMATCH", `mismatched sums size for ${name}: ${entry.sums.length} != ${e.values.length}`, { file: path });
        }
        if (e.counts.length === 0) e.counts.push(...new Array<number>(entry.counts.length).fill(0));
        else if (e.counts.length === 1 && entry.counts.length > 1) e.counts.push(...new Array<number>(entry.counts.length - 1).fill(e.counts[0]));
        else if (e.counts.length !== entry.counts.length) {
          throw new InputError("IMATRIX_MISMATCH", `mismatched counts size for ${name}: ${entry.counts.length} != ${e.counts.length}`, { file: path });
        }
        for (let j = 0; j < entry.sums.length; j++) e.values[j] = Math.fround(e.values[j] + entry.sums[j]);
        for (let j = 0; j < entry.counts.length; j++) e.counts[j] += entry.counts[j];
      }
    }
    this.loadedDatasets.push(...file.datasets);
    let maxCount = 0;
    for (const s of this.stats.values()) for (const c of s.counts) maxCount = Math.max(maxCount, c);
    this.lastChunk = Math.floor(maxCount / this.chunkSize);
  }

  /** These statistics as the raw file save_imatrix would write (the in-memory twin of writeGguf + readImatrixRaw). */
  asRaw(): RawImatrix {
    const entries = new Map<string, { sums: Float32Array; counts: number[] }>();
    for (const name of this.sortedNames()) {
      const s = this.stats.get(name)!;
      if (s.counts.length > 0 && s.values.length > 0) entries.set(name, { sums: s.values, counts: [...s.counts] });
    }
    return { entries, datasets: [...this.loadedDatasets], chunkCount: this.lastChunk, chunkSize: this.chunkSize, legacy: false };
  }

  /** Tensor names in the order save_imatrix writes them (std::sort of the names: byte order). */
  sortedNames(): string[] {
    return [...this.stats.keys()].sort(byteOrder);
  }

  /**
   * save_imatrix: the GGUF imatrix at `path` (atomically: temp name, fsync, rename). `dataset` is the current
   * data file as given on the command line (prompt_file), appended after the combined files' datasets;
   * `extraKVs` adds keys after llama.cpp's (its loader ignores keys it does not know).
   */
  async writeGguf(path: string, dataset: string | undefined, extraKVs?: (w: GGUFWriter) => void): Promise<void> {
    const w = new GGUFWriter(path);
    w.setString("general.type", "imatrix");
    const datasets = dataset === undefined ? [...this.loadedDatasets] : [...this.loadedDatasets, dataset];
    w.setArray("imatrix.datasets", GGUFValueType.STRING, datasets);
    w.setUint32("imatrix.chunk_count", this.lastChunk);
    w.setUint32("imatrix.chunk_size", this.chunkSize);
    extraKVs?.(w);
    const names = this.sortedNames().filter((n) => this.stats.get(n)!.counts.length > 0 && this.stats.get(n)!.values.length > 0);
    for (const name of names) {
      const s = this.stats.get(name)!;
      const nMat = s.counts.length;
      // gguf_add_tensor stores ggml_n_dims dims: trailing 1s dropped
      w.addTensor(`${name}.in_sum2`, ggmlNDimsShape([s.values.length / nMat, nMat]), GGMLType.F32);
      w.addTensor(`${name}.counts`, ggmlNDimsShape([1, nMat]), GGMLType.F32);
    }
    try {
      await w.writeHeader();
      for (const name of names) {
        const s = this.stats.get(name)!;
        await w.writeTensorData(`${name}.in_sum2`, new Uint8Array(s.values.buffer, s.values.byteOffset, s.values.byteLength));
        await w.writeTensorData(`${name}.counts`, new Uint8Array(Float32Array.from(s.counts).buffer));
      }
      await w.finish();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function assertFinite(name: string, v: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(v[i])) throw new InputError("IMATRIX_NONFINITE", `non-finite values detected in ${name}`);
  }
}
