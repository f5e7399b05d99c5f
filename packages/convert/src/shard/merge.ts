/**
 * `moeq merge`: assembles the output of a sharded run from its shard files, byte-identical to the unsharded run.
 * The shard set is checked first (checkShardSet), then the merger for the shards' kind writes the output through
 * a temp name, so nothing appears under its final name unless every unit arrived intact.
 */
import { open } from "node:fs/promises";
import { AtomicFileWriter, InputError } from "@moeq/formats";
import { FOLDER_SHARD_KIND, mergeFolderShards } from "./folder-shard.js";
import { IMATRIX_SHARD_KIND, mergeImatrixShards } from "./imatrix-shard.js";
import { COPY_CHUNK_BYTES, checkShardSet, copyUnit, readShardManifest, type ShardFile } from "./shard-file.js";
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
  const all = files.flatMap((f) => f.manifest.units.map((u) => ({ f, u }))).sort((a, b) => a.u.at - b.u.at);
  const total = files[0].manifest.totalBytes;
  const out = await AtomicFileWriter.open(output);
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  try {
    let pos = 0;
    const chunk = Buffer.alloc(COPY_CHUNK_BYTES);
    const zeros = (n: number): Promise<void> => (n > 0 ? out.write(new Uint8Array(n)) : Promise.resolve());
    for (const { f, u } of all) {
      if (u.at < pos) throw new InputError("SHARD_BAD_MANIFEST", `unit ${JSON.stringify(u.id.slice(0, 80))} overlaps the one before it`, { file: f.path });
      await zeros(u.at - pos);
      let fh = handles.get(f.path);
      if (!fh) handles.set(f.path, (fh = await open(f.path, "r")));
      await copyUnit(fh, f.path, u, (b) => out.write(b), chunk);
      pos = u.at + u.length;
    }
    await zeros(total - pos);
    await out.commit();
    return total;
  } catch (err) {
    await out.abort();
    throw err;
  } finally {
    for (const fh of handles.values()) await fh.close();
  }
}

/** Mergers by shard kind. */
const MERGERS: Readonly<Record<string, Merger>> = {
  fp8: (files, output) => mergeFolder(files, output, mergeOffsetFile),
  gguf: mergeOffsetFile,
  [IMATRIX_SHARD_KIND]: mergeImatrixShards,
  [FOLDER_SHARD_KIND]: mergeFolderShards,
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
