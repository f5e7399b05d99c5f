/**
 * `moeq imatrix` end to end: open the model, tokenize and chunk the text, combine `--in-file` imatrices, collect
 * (resuming from a periodic output of the same run when there is one), write the GGUF imatrix.
 *
 * Resuming: a periodic output goes to `<output>.partial` (atomically: temp name, fsync, rename) and carries three
 * extra keys (`moeq.imatrix.resume.*`: a fingerprint of model, text and options, the chunks done, the combined
 * files' datasets); llama.cpp's loader ignores unknown keys, so it is an ordinary imatrix file meanwhile. A rerun
 * with the same fingerprint loads it and continues after those chunks; the f32 sums continue from the same
 * values, so the final file equals an uninterrupted run's, whenever the first run was killed (SIGKILL included).
 * The final file has no resume keys and appears under `output` only when complete; `.partial` is then removed.
 */
import { createHash } from "node:crypto";
import { existsSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { GGUFValueType, InputError, openGguf } from "@moeq/formats";
import { loadModel, type Llama4Model, type Llama4TextConfig } from "@moeq/runtime";
import { readImatrixRaw, type RawImatrix } from "./imatrix.js";
import { ImatrixStats } from "./imatrix-stats.js";
import { collectImatrix, planImatrixChunks, updateLastChunk, type ImatrixChunkPlan } from "./imatrix-collect.js";
import { imatrixExpertReport, type ImatrixExpertReport } from "./imatrix-report.js";
import { ImatrixShardWriter, imatrixChunkInShard } from "./shard/imatrix-shard.js";
import type { ShardSpec } from "./shard/shard-spec.js";

export interface ImatrixRunOptions {
  /** GGUF file or HF checkpoint directory. */
  readonly model: string;
  /** The calibration text (already extracted from .jsonl / .parquet); undefined: only combine `inFiles`. */
  readonly text: string | undefined;
  /** The data file as given (imatrix.datasets, error messages); undefined with `text`. */
  readonly dataFile: string | undefined;
  readonly output: string;
  readonly nCtx?: number;
  readonly nChunks?: number;
  readonly chunkOffset?: number;
  readonly processOutput?: boolean;
  readonly parseSpecial?: boolean;
  readonly outputFrequency?: number;
  readonly inFiles?: readonly string[];
  readonly threads?: number;
  /** Bit-identical activations to llama.cpp's CPU backend (`--no-repack`, `-fa off`); ≈ 9× slower. */
  readonly exact?: boolean;
  readonly onChunk?: (done: number, total: number) => void;
  /**
   * Sum each chunk's Σx² from zero and add the chunk sums in chunk order (the order `shard` runs use, so the
   * result equals their merge byte for byte). Default: llama-imatrix's one running sum, bit-identical to it.
   */
  readonly perChunkSums?: boolean;
  /** Evaluate only chunks c with c mod N = i − 1 and write `<output>.shard-i-of-N` for `moeq merge` (imatrix-shard.ts). */
  readonly shard?: ShardSpec;
}

export interface ImatrixRunSummary {
  readonly output: string;
  readonly chunks: number;
  readonly chunkSize: number;
  /** imatrix.chunk_count written. */
  readonly chunkCount: number;
  /** Chunks skipped because a periodic output of the same run already held them. */
  readonly resumedChunks: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSecond: number;
  readonly tensors: number;
  readonly experts: ImatrixExpertReport;
  /** The shard file written, with `shard` (chunks, tokens and experts then count this shard's chunks). */
  readonly shardFile?: string;
}

const RESUME_FINGERPRINT = "moeq.imatrix.resume.fingerprint";
const RESUME_CHUNKS = "moeq.imatrix.resume.chunks";
const RESUME_DATASETS = "moeq.imatrix.resume.datasets";

export async function runImatrix(o: ImatrixRunOptions): Promise<ImatrixRunSummary> {
  if (o.text !== undefined && o.text.trim().length === 0) throw new InputError("IMATRIX_EMPTY_DATA", "calibration text is empty", { file: o.dataFile });
  const inFiles = o.inFiles ?? [];
  if (o.text === undefined && inFiles.length === 0)
    throw new InputError("IMATRIX_NO_INPUT", "no calibration data (--data) and no imatrix to combine (--in-file)");
  const loaded: { path: string; file: RawImatrix }[] = [];
  for (const path of inFiles) loaded.push({ path, file: await readImatrixRaw(path) });

  const model = await loadModel(o.model, { ggmlNumerics: o.exact ? "exact" : undefined, threads: o.threads });
  try {
    for (const { path, file } of loaded) checkImatrixFitsModel(file, model.config, path);
    if (o.text === undefined) return await combineOnly(o, loaded);
    // llama.cpp's -f drops one trailing newline
    const text = o.text.endsWith("\n") ? o.text.slice(0, -1) : o.text;
    const tokens = model.tokenize(text, { addBos: model.tokenizer.addBosDefault, parseSpecial: o.parseSpecial ?? false });
    const nCtx = o.nCtx ?? 512;
    const bos = model.tokenizer.addBosDefault ? model.bosId : null;
    const plan = planImatrixChunks(tokens, bos, { nCtx, nChunks: o.nChunks, chunkOffset: o.chunkOffset, file: o.dataFile ?? "" });
    if (o.shard) return await runImatrixShard(model, o, o.shard, plan, tokens.length, loaded);
    const fingerprint = runFingerprint(o, o.text, tokens.length);

    const stats = new ImatrixStats(nCtx);
    let startChunk = 0;
    const partial = imatrixPartialPath(o.output);
    const resume = await readResumeState(partial, fingerprint);
    if (resume) {
      stats.load(resume.file, partial);
      stats.loadedDatasets.length = 0;
      stats.loadedDatasets.push(...resume.datasets);
      startChunk = resume.chunks;
    } else {
      for (const { path, file } of loaded) stats.load(file, path);
    }

    const t0 = performance.now();
    await collectImatrix(model, plan, stats, {
      processOutput: o.processOutput,
      outputFrequency: o.outputFrequency,
      startChunk,
      onChunk: o.onChunk,
      onChunkStats: o.perChunkSums ? async (c, chunkStats) => stats.load(chunkStats.asRaw(), `chunk ${c}`) : undefined,
      onCheckpoint: (done) =>
        stats.writeGguf(partial, o.dataFile, (w) => {
          w.setString(RESUME_FINGERPRINT, fingerprint);
          w.setUint32(RESUME_CHUNKS, done);
          w.setArray(RESUME_DATASETS, GGUFValueType.STRING, [...stats.loadedDatasets]);
        }),
    });
    const seconds = (performance.now() - t0) / 1000;
    updateLastChunk(stats);
    await stats.writeGguf(o.output, o.dataFile);
    rmSync(partial, { force: true });
    const evaluated = (plan.nChunks - startChunk) * nCtx;
    return {
      output: o.output,
      chunks: plan.nChunks,
      chunkSize: nCtx,
      chunkCount: stats.lastChunk,
      resumedChunks: startChunk,
      tokens: evaluated,
      seconds,
      tokensPerSecond: seconds > 0 ? evaluated / seconds : 0,
      tensors: stats.stats.size,
      experts: imatrixExpertReport(stats.stats),
    };
  } finally {
    await model.close();
  }
}

/** One shard of the run: its chunks, each kept on its own in the shard file (imatrix-shard.ts). */
async function runImatrixShard(
  model: Llama4Model,
  o: ImatrixRunOptions,
  spec: ShardSpec,
  plan: ImatrixChunkPlan,
  nTokens: number,
  loaded: { path: string; file: RawImatrix }[],
): Promise<ImatrixRunSummary> {
  const nCtx = plan.nCtx;
  let inFiles: ImatrixStats | undefined;
  if (loaded.length > 0) {
    inFiles = new ImatrixStats(nCtx);
    for (const { path, file } of loaded) inFiles.load(file, path);
  }
  const writer = await ImatrixShardWriter.open(o.output, spec, {
    fingerprint: runFingerprint(o, o.text!, nTokens, true),
    nChunks: plan.nChunks,
    chunkSize: nCtx,
    dataset: o.dataFile,
    inFiles,
  });
  // this shard's chunks added up, for its summary and expert report only
  const mine = new ImatrixStats(nCtx);
  const t0 = performance.now();
  try {
    await collectImatrix(model, plan, mine, {
      processOutput: o.processOutput,
      includeChunk: (c) => imatrixChunkInShard(c, spec),
      onChunk: o.onChunk,
      onChunkStats: async (c, chunkStats) => {
        await writer.addChunk(c, chunkStats);
        mine.load(chunkStats.asRaw(), `chunk ${c}`);
      },
    });
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  let chunks = 0;
  for (let c = 0; c < plan.nChunks; c++) if (imatrixChunkInShard(c, spec)) chunks++;
  return {
    output: o.output,
    chunks,
    chunkSize: nCtx,
    chunkCount: mine.lastChunk,
    resumedChunks: 0,
    tokens: chunks * nCtx,
    seconds,
    tokensPerSecond: seconds > 0 ? (chunks * nCtx) / seconds : 0,
    tensors: mine.stats.size,
    experts: imatrixExpertReport(mine.stats),
    shardFile: writer.path,
  };
}

/** Where `moeq imatrix -o output` keeps its periodic output until the run completes. */
export function imatrixPartialPath(output: string): string {
  return `${output}.partial`;
}

/** llama-imatrix without a prompt: the `--in-file` imatrices added up and written (chunk size = n_ctx). */
async function combineOnly(o: ImatrixRunOptions, loaded: { path: string; file: RawImatrix }[]): Promise<ImatrixRunSummary> {
  const stats = new ImatrixStats(o.nCtx ?? 512);
  for (const { path, file } of loaded) stats.load(file, path);
  await stats.writeGguf(o.output, undefined);
  return {
    output: o.output,
    chunks: 0,
    chunkSize: stats.chunkSize,
    chunkCount: stats.lastChunk,
    resumedChunks: 0,
    tokens: 0,
    seconds: 0,
    tokensPerSecond: 0,
    tensors: stats.stats.size,
    experts: imatrixExpertReport(stats.stats),
  };
}

/** The input width (ne0) and matrix count of each weight an imatrix may describe, from the model's config. */
function expectedShape(name: string, c: Llama4TextConfig): { width: number; nMat: number } | undefined {
  if (name === "output.weight") return { width: c.hiddenSize, nMat: 1 };
  const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(name);
  if (!m) return undefined;
  const layer = Number(m[1]);
  if (layer >= c.numLayers) return undefined;
  const moe = c.moeLayers[layer];
  switch (m[2]) {
    case "attn_q":
    case "attn_k":
    case "attn_v":
      return { width: c.hiddenSize, nMat: 1 };
    case "attn_output":
      return { width: c.numHeads * c.headDim, nMat: 1 };
    case "ffn_gate":
    case "ffn_up":
      return moe ? undefined : { width: c.hiddenSize, nMat: 1 };
    case "ffn_down":
      return moe ? undefined : { width: c.denseFfSize, nMat: 1 };
    case "ffn_gate_inp":
    case "ffn_gate_shexp":
    case "ffn_up_shexp":
      return moe ? { width: c.hiddenSize, nMat: 1 } : undefined;
    case "ffn_down_shexp":
      return moe ? { width: c.expertFfSize, nMat: 1 } : undefined;
    case "ffn_gate_exps":
    case "ffn_up_exps":
      return moe ? { width: c.hiddenSize, nMat: c.numExperts } : undefined;
    case "ffn_down_exps":
      return moe ? { width: c.expertFfSize, nMat: c.numExperts } : undefined;
    default:
      return undefined;
  }
}

/** An `--in-file` made for another model (a tensor it lacks, or another width or expert count) is bad input. */
export function checkImatrixFitsModel(file: RawImatrix, c: Llama4TextConfig, path: string): void {
  for (const [name, e] of file.entries) {
    const want = expectedShape(name, c);
    if (!want) throw new InputError("IMATRIX_OTHER_MODEL", `imatrix for another model: this model has no weight ${name}`, { file: path });
    const size = want.width * want.nMat;
    if (e.sums.length !== size) {
      throw new InputError(
        "IMATRIX_OTHER_MODEL",
        `imatrix for another model: ${name} has ${e.sums.length} values, this model needs ${size} (${want.nMat} × ${want.width})`,
        { file: path },
      );
    }
    if (!file.legacy && e.counts.length !== 1 && e.counts.length !== want.nMat) {
      throw new InputError("IMATRIX_OTHER_MODEL", `imatrix for another model: ${name} has ${e.counts.length} counts, this model has ${want.nMat} experts`, {
        file: path,
      });
    }
  }
}

/**
 * The inputs and options that decide the file. A resume checkpoint also keys on the model's and in-files' paths and
 * the model's mtime; `portable` (what every shard of one run must agree on, checked by `moeq merge`) leaves those
 * out, since they differ between the machines of a cluster.
 */
function runFingerprint(o: ImatrixRunOptions, text: string, nTokens: number, portable = false): string {
  const model = resolve(o.model);
  const modelStat = existsSync(model) ? statSync(model) : undefined;
  const h = createHash("sha256");
  h.update(
    JSON.stringify({
      command: portable ? "imatrix" : undefined,
      model: portable ? undefined : model,
      modelSize: modelStat?.isFile() ? modelStat.size : null,
      modelMtime: portable ? undefined : (modelStat?.mtimeMs ?? null),
      nCtx: o.nCtx ?? 512,
      nChunks: o.nChunks ?? -1,
      chunkOffset: o.chunkOffset ?? 0,
      processOutput: o.processOutput ?? false,
      parseSpecial: o.parseSpecial ?? false,
      exact: o.exact ?? false,
      perChunkSums: portable ? undefined : (o.perChunkSums ?? false),
      dataFile: o.dataFile,
      nTokens,
      inFiles: (o.inFiles ?? []).map((p) => (portable ? statSync(p).size : { p: resolve(p), size: statSync(p).size })),
    }),
  );
  h.update(text);
  return h.digest("hex");
}

async function readResumeState(output: string, fingerprint: string): Promise<{ file: RawImatrix; chunks: number; datasets: string[] } | undefined> {
  if (!existsSync(output)) return undefined;
  let chunks: number | undefined;
  let datasets: string[];
  try {
    const g = await openGguf(output);
    try {
      if (g.get(RESUME_FINGERPRINT) !== fingerprint) return undefined;
      const c = g.get(RESUME_CHUNKS);
      chunks = typeof c === "number" ? c : typeof c === "bigint" ? Number(c) : undefined;
      const d = g.get(RESUME_DATASETS);
      datasets = Array.isArray(d) ? d.map(String) : [];
    } finally {
      await g.close();
    }
  } catch {
    return undefined; // not a GGUF (or not ours): start over and overwrite it, as llama-imatrix does
  }
  if (chunks === undefined) return undefined;
  return { file: await readImatrixRaw(output), chunks, datasets };
}
