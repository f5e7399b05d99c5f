/**
 * `moeq merge`: assembles the output of a sharded run from its shard files, byte-identical to the unsharded run.
 * The shard set is checked first (checkShardSet), then the merger for the shards' kind writes the output through
 * a temp name, so nothing appears under its final name unless every unit arrived intact.
 */
import { AtomicFileWriter, InputError } from "@moeq/formats";
import { checkShardSet, readShardManifest, type ShardFile } from "./shard-file.js";
import { copyUnitsInRange } from "./offset-copy.js";
import { mergeFolder } from "./folder-merge.js";

/** What a merge wrote. */
export interface MergeSummary {
  readonly output: string;
  readonly kind: string;
  readonly shards: number;
  readonly bytes: number;
  readonly seconds: number;
}

type Merger = (files: readonly ShardFile[], output: string) => Promise<number>;

/** One file of units at fixed offsets, zeros in the gaps (GGUF: header, then aligned tensor data). */
async function mergeOffsetFile(files: readonly ShardFile[], output: string): Promise<number> {
  const total = files[0].manifest.totalBytes;
  const out = await AtomicFileWriter.open(output);
  try {
    await copyUnitsInRange(files, 0, total, (b) => out.write(b));
    await out.commit();
    return total;
  } catch (err) {
    await out.abort();
    throw err;
  }
}

/** Mergers by shard kind. */
const MERGERS: Readonly<Record<string, Merger>> = {
  gguf: mergeOffsetFile,
  fp8: mergeFolder,
};

/** Reads, checks and merges `paths` into `output`. */
export async function mergeShards(paths: readonly string[], output: string): Promise<MergeSummary> {
  const t0 = performance.now();
  const files: ShardFile[] = [];
  for (const path of paths) files.push({ path, manifest: await readShardManifest(path) });
  checkShardSet(files);
  const kind = files[0].manifest.kind;
  const merger = MERGERS[kind];
  if (!merger) throw new InputError("SHARD_KIND", `shards of kind ${JSON.stringify(kind.slice(0, 40))} cannot be merged by this moeq`, { file: files[0].path });
  const bytes = await merger(files, output);
  return { output, kind, shards: files.length, bytes, seconds: (performance.now() - t0) / 1000 };
}
