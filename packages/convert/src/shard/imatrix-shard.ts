/**
 * `moeq imatrix --shard i/N`: the unit is one calibration chunk, chunk c (0-based, after `--chunk-offset`) to
 * shard (c mod N) + 1 — chunks cost the same, so that is balanced by compute. A shard stores each of its chunks'
 * statistics on their own (Σx² summed from zero, counts), as a complete llama.cpp imatrix GGUF per chunk; shard 1
 * also stores the run (chunk size, dataset name) and the `--in-file` imatrices combined. `moeq merge` adds them up
 * as llama-imatrix `--in-file` adds files (IMatrixCollector::load_imatrix: f32 sums and integer counts added):
 * the combined in-files first, then the chunks in chunk order.
 *
 * Why per chunk: f32 addition is not associative, so shard totals added together differ from one running sum in
 * the last bits, and differently for each N. Kept per chunk and added in chunk order, the merged file is the same
 * for every N, and equals an unsharded run with `perChunkSums` (each chunk summed from zero, the chunk sums added
 * in order: the same additions in the same order). The cost is shard size: one imatrix per chunk.
 */
import { rmSync, statSync } from "node:fs";
import { open, readFile, writeFile } from "node:fs/promises";
import { InputError, atomicTempPath } from "@moeq/formats";
import { readImatrixRaw } from "../imatrix.js";
import { ImatrixStats } from "../imatrix-stats.js";
import { ShardFileWriter, readUnit, shardFilePath, type ShardFile } from "./shard-file.js";
import type { ShardSpec } from "./shard-spec.js";

export const IMATRIX_SHARD_KIND = "imatrix";

/** What shard 1 records about the run, for the merge. */
interface ImatrixShardRunRecord {
  readonly chunkSize: number;
  /** The data file as given (appended to imatrix.datasets on write). */
  readonly dataset: string | null;
}

const RUN_UNIT = "run";
const IN_FILES_UNIT = "in-files";
const chunkUnit = (c: number): string => `chunk ${c}`;

/** Whether chunk `c` (0-based) is shard `s`'s. */
export function imatrixChunkInShard(c: number, s: ShardSpec): boolean {
  return c % s.count === s.index - 1;
}

/** Writes `stats` as an imatrix GGUF (save_imatrix's bytes) and returns them. */
async function ggufBytes(stats: ImatrixStats, near: string, dataset: string | undefined): Promise<Buffer> {
  const tmp = atomicTempPath(near);
  try {
    await stats.writeGguf(tmp, dataset);
    return await readFile(tmp);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The shard file of one `moeq imatrix --shard` run, filled chunk by chunk. */
export class ImatrixShardWriter {
  private constructor(
    private readonly out: ShardFileWriter,
    readonly path: string,
  ) {}

  /**
   * Opens `<output>.shard-i-of-N`; shard 1 records the run and `inFiles` (the `--in-file` imatrices loaded into
   * one accumulator, or undefined without them). `nChunks`: chunks of the whole run.
   */
  static async open(
    output: string,
    spec: ShardSpec,
    run: { fingerprint: string; nChunks: number; chunkSize: number; dataset: string | undefined; inFiles: ImatrixStats | undefined },
  ): Promise<ImatrixShardWriter> {
    const path = shardFilePath(output, spec);
    const out = await ShardFileWriter.open(path, {
      kind: IMATRIX_SHARD_KIND,
      fingerprint: run.fingerprint,
      index: spec.index,
      count: spec.count,
      totalUnits: run.nChunks + 1 + (run.inFiles ? 1 : 0),
      totalBytes: 0,
    });
    const w = new ImatrixShardWriter(out, path);
    try {
      if (spec.index === 1) {
        const record: ImatrixShardRunRecord = { chunkSize: run.chunkSize, dataset: run.dataset ?? null };
        await out.add(RUN_UNIT, 0, Buffer.from(JSON.stringify(record), "utf8"));
        if (run.inFiles) await out.add(IN_FILES_UNIT, 1, await ggufBytes(run.inFiles, path, undefined));
      }
    } catch (err) {
      await out.abort();
      throw err;
    }
    return w;
  }

  /** Adds chunk `c`'s statistics (summed from zero over that chunk alone). */
  async addChunk(c: number, stats: ImatrixStats): Promise<void> {
    await this.out.add(chunkUnit(c), 2 + c, await ggufBytes(stats, this.path, undefined));
  }

  finish(): Promise<void> {
    return this.out.finish();
  }

  abort(): Promise<void> {
    return this.out.abort();
  }
}

/** `moeq merge` for imatrix shards: load_imatrix over the in-files, then every chunk in order; save_imatrix. */
export async function mergeImatrixShards(files: readonly ShardFile[], output: string): Promise<number> {
  const all = files.flatMap((f) => f.manifest.units.map((u) => ({ f, u }))).sort((a, b) => a.u.at - b.u.at);
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  const payload = async (i: number): Promise<Buffer> => {
    const { f, u } = all[i];
    let fh = handles.get(f.path);
    if (!fh) handles.set(f.path, (fh = await open(f.path, "r")));
    return readUnit(fh, f.path, u);
  };
  const tmp = atomicTempPath(output);
  try {
    if (all[0]?.u.id !== RUN_UNIT)
      throw new InputError("SHARD_BAD_MANIFEST", "imatrix shards lack the run record (shard 1's first unit)", { file: files[0].path });
    let run: ImatrixShardRunRecord;
    try {
      run = JSON.parse((await payload(0)).toString("utf8")) as ImatrixShardRunRecord;
    } catch {
      throw new InputError("SHARD_BAD_MANIFEST", "the imatrix run record is not valid JSON", { file: all[0].f.path });
    }
    if (!Number.isSafeInteger(run.chunkSize) || run.chunkSize < 1 || (run.dataset !== null && typeof run.dataset !== "string"))
      throw new InputError("SHARD_BAD_MANIFEST", "the imatrix run record lacks chunkSize or dataset", { file: all[0].f.path });
    const stats = new ImatrixStats(run.chunkSize);
    for (let i = 1; i < all.length; i++) {
      const { f, u } = all[i];
      if (u.id !== IN_FILES_UNIT && u.id !== chunkUnit(u.at - 2))
        throw new InputError("SHARD_BAD_MANIFEST", `unit ${JSON.stringify(u.id.slice(0, 80))} is not an imatrix chunk`, { file: f.path });
      await writeFile(tmp, await payload(i));
      stats.load(await readImatrixRaw(tmp), f.path);
    }
    await stats.writeGguf(output, run.dataset ?? undefined);
    return statSync(output).size;
  } finally {
    rmSync(tmp, { force: true });
    for (const fh of handles.values()) await fh.close();
  }
}
