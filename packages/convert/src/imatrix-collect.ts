/**
 * Importance-matrix collection over calibration text, as llama-imatrix's compute_imatrix + collect_imatrix do it
 * (tools/imatrix/imatrix.cpp), on the moeq runtime's activation taps:
 * - the text is tokenized once with BOS (add_special) and `parseSpecial`; `chunkOffset` chunks are dropped
 *   first; at least two chunks must remain; `nChunks` (default all) chunks of `nCtx` tokens are evaluated,
 *   each from an empty KV cache with its first token replaced by BOS;
 * - MUL_MAT_ID (routed experts): every row, as routed and router-scaled, into its expert's slice;
 * - MUL_MAT (every other `blk.*` weight, and `output.weight` only with `processOutput`): skipped for a
 *   physical batch (ubatch) of fewer than 16 rows, as llama.cpp's callback does ("why are small batches
 *   ignored (<16 tokens)?"); ubatches are n_ubatch = 512 tokens of a chunk when one chunk fills the batch;
 * - imatrix.chunk_count is m_last_chunk: max over all counts of count / chunk size (integer), and a periodic
 *   output is due when it crosses a multiple of `outputFrequency` (llama.cpp: `(m_last_chunk % n_out_freq) /
 *   chunk_step == 0`). moeq writes it after the whole chunk, so a checkpoint is a consistent state to resume
 *   from (llama.cpp writes it from inside the callback, mid-graph).
 */
import { InputError } from "@moeq/formats";
import type { ActivationEvent, Llama4Model } from "@moeq/runtime";
import { ImatrixStats } from "./imatrix-stats.js";

/** llama.cpp's defaults: n_batch 2048, n_ubatch 512; dense matmuls over fewer rows than this are not collected. */
export const IMATRIX_N_BATCH = 2048;
export const IMATRIX_N_UBATCH = 512;
export const IMATRIX_MIN_DENSE_ROWS = 16;

export interface ImatrixChunkPlan {
  /** Token ids after the chunk offset was removed. */
  readonly tokens: number[];
  readonly nCtx: number;
  readonly nChunks: number;
  readonly bosId: number | null;
}

export interface PlanImatrixOptions {
  readonly nCtx: number;
  /** Chunks to evaluate; undefined or negative: all. */
  readonly nChunks?: number;
  /** Chunks dropped from the start (`--chunk-offset`, llama-imatrix `--chunk`). */
  readonly chunkOffset?: number;
  /** The data file, for error messages. */
  readonly file: string;
}

/** compute_imatrix's checks and chunking over already tokenized text (with BOS). */
export function planImatrixChunks(allTokens: readonly number[], bosId: number | null, o: PlanImatrixOptions): ImatrixChunkPlan {
  const nCtx = o.nCtx;
  if (!Number.isInteger(nCtx) || nCtx < IMATRIX_MIN_DENSE_ROWS) {
    throw new InputError("IMATRIX_CTX", `--ctx must be an integer ≥ ${IMATRIX_MIN_DENSE_ROWS} (got ${nCtx})`);
  }
  let tokens = [...allTokens];
  const offset = o.chunkOffset ?? 0;
  if (offset > 0) {
    if ((offset + 2) * nCtx >= tokens.length) {
      throw new InputError("IMATRIX_TOO_SHORT", `not enough tokens left after removing ${offset} chunks (${tokens.length} tokens, --ctx ${nCtx})`, {
        file: o.file,
      });
    }
    tokens = tokens.slice(offset * nCtx);
  }
  if (tokens.length < 2 * nCtx) {
    throw new InputError("IMATRIX_TOO_SHORT", `text tokenizes to only ${tokens.length} tokens; a context of ${nCtx} needs at least ${2 * nCtx}`, {
      file: o.file,
    });
  }
  const max = Math.floor(tokens.length / nCtx);
  const nChunks = o.nChunks === undefined || o.nChunks < 0 ? max : Math.min(o.nChunks, max);
  if (nChunks < 1) throw new InputError("IMATRIX_CHUNKS", `--chunks must be at least 1 (got ${o.nChunks})`);
  return { tokens, nCtx, nChunks, bosId };
}

/** The [start, end) row ranges of one chunk that llama.cpp hands to MUL_MAT in ubatches of ≥ 16 rows. */
export function denseRowRanges(nCtx: number): [number, number][] {
  const nSeq = Math.max(1, Math.floor(IMATRIX_N_BATCH / nCtx));
  if (nSeq > 1) return [[0, nCtx]]; // several chunks share one batch: every ubatch holds ≥ 16 rows
  const out: [number, number][] = [];
  for (let b = 0; b < nCtx; b += IMATRIX_N_BATCH) {
    const bEnd = Math.min(nCtx, b + IMATRIX_N_BATCH);
    for (let u = b; u < bEnd; u += IMATRIX_N_UBATCH) {
      const uEnd = Math.min(bEnd, u + IMATRIX_N_UBATCH);
      if (uEnd - u >= IMATRIX_MIN_DENSE_ROWS) out.push([u, uEnd]);
    }
  }
  return out;
}

export interface CollectImatrixOptions {
  readonly processOutput?: boolean;
  /** Periodic output every N chunks of m_last_chunk (llama-imatrix `--output-frequency`; default 1 here, 10 there). */
  readonly outputFrequency?: number;
  /** Chunks of this plan already in `stats` (a resumed run). */
  readonly startChunk?: number;
  /** After each chunk: chunks done (of the plan), plan total, tokens evaluated in this call. */
  readonly onChunk?: (done: number, total: number) => void;
  /** A periodic output is due: write `stats` (chunks of the plan done so far). */
  readonly onCheckpoint?: (chunksDone: number) => Promise<void>;
  /**
   * Per-chunk sums: each chunk's Σx² and counts go into a fresh accumulator (same row order, summed from zero),
   * handed here after the chunk; `stats` is then not touched by the taps (the callback combines or stores it).
   */
  readonly onChunkStats?: (chunk: number, chunkStats: ImatrixStats) => Promise<void>;
  /** Evaluate only the chunks this says yes to (a shard's chunks); default all. */
  readonly includeChunk?: (chunk: number) => boolean;
}

/** Runs the chunks of `plan` through `model`, adding what each weight saw to `stats`. */
export async function collectImatrix(model: Llama4Model, plan: ImatrixChunkPlan, stats: ImatrixStats, o: CollectImatrixOptions = {}): Promise<void> {
  const nExperts = model.config.numExperts;
  const processOutput = o.processOutput ?? false;
  const freq = o.outputFrequency ?? 1;
  const ranges = denseRowRanges(plan.nCtx);
  const wanted = (name: string): boolean => name.startsWith("blk.") || (processOutput && name === "output.weight");
  let into = stats;
  const onEvent = (ev: ActivationEvent): void => {
    if (ev.expert !== undefined) {
      into.addExpert(ev.tensor, nExperts, ev.expert, ev.rows, ev.nRows, ev.nCols);
      return;
    }
    if (!wanted(ev.tensor)) return;
    for (const [a, b] of ranges) {
      if (b > ev.nRows) break;
      into.addDense(ev.tensor, ev.rows.subarray(a * ev.nCols, b * ev.nCols), b - a, ev.nCols);
    }
  };
  model.setTap(onEvent);
  try {
    for (let c = o.startChunk ?? 0; c < plan.nChunks; c++) {
      if (o.includeChunk && !o.includeChunk(c)) continue;
      const chunk = plan.tokens.slice(c * plan.nCtx, (c + 1) * plan.nCtx);
      if (plan.bosId !== null) chunk[0] = plan.bosId;
      const before = stats.lastChunk;
      if (o.onChunkStats) into = new ImatrixStats(stats.chunkSize);
      await model.logits(chunk, { logitsFor: processOutput ? "all" : "last" });
      if (o.onChunkStats) {
        updateLastChunk(into);
        await o.onChunkStats(c, into);
      }
      updateLastChunk(stats);
      const step = stats.lastChunk - before;
      o.onChunk?.(c + 1, plan.nChunks);
      if (step > 0 && freq > 0 && Math.floor((stats.lastChunk % freq) / step) === 0 && c + 1 < plan.nChunks) await o.onCheckpoint?.(c + 1);
    }
  } finally {
    model.setTap(null);
  }
}

/** m_last_chunk = max(m_last_chunk, count / chunk_size) over every count (collect_imatrix's update). */
export function updateLastChunk(stats: ImatrixStats): void {
  for (const s of stats.stats.values()) {
    for (const c of s.counts) stats.lastChunk = Math.max(stats.lastChunk, Math.floor(c / stats.chunkSize));
  }
}
