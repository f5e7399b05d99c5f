/**
 * Merger for shards of a folder output (kind "fp8": a safetensors checkpoint with its index, config and tokenizer
 * files). The manifest lists the folder's files and sizes; the output is those files laid end to end, so each file
 * is the units in its byte range, written by the one-file merger on a view of the shards shifted to that range.
 * Written through a temp folder renamed into place (writeOutputDir).
 */
import { join } from "node:path";
import { InputError } from "@moeq/formats";
import { writeOutputDir } from "../output-dir.js";
import type { ShardFile } from "./shard-file.js";

interface FolderFile {
  readonly name: string;
  readonly size: number;
}

/** The manifest's `files`, checked: plain names (no folders, no dot names), sizes adding up to totalBytes. */
function folderFiles(f: ShardFile): FolderFile[] {
  const files = (f.manifest as unknown as { files?: unknown }).files;
  const ok =
    Array.isArray(files) &&
    files.every((x: unknown) => {
      const r = x as Record<string, unknown> | null;
      return (
        typeof r === "object" &&
        r !== null &&
        typeof r.name === "string" &&
        /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/.test(r.name) &&
        typeof r.size === "number" &&
        Number.isSafeInteger(r.size) &&
        r.size >= 0
      );
    });
  if (!ok) throw new InputError("SHARD_BAD_MANIFEST", "manifest lacks a valid list of output files", { file: f.path });
  const list = files as FolderFile[];
  if (new Set(list.map((x) => x.name)).size !== list.length)
    throw new InputError("SHARD_BAD_MANIFEST", "manifest names an output file twice", { file: f.path });
  if (list.reduce((a, x) => a + x.size, 0) !== f.manifest.totalBytes) {
    throw new InputError("SHARD_BAD_MANIFEST", "manifest file sizes do not add up to its total", { file: f.path });
  }
  return list;
}

/** The shards as one file's merge sees them: the units in bytes [start, start + size), offsets relative to start. */
function view(files: readonly ShardFile[], start: number, size: number): ShardFile[] {
  return files.map((f) => {
    const units = f.manifest.units.filter((u) => u.at >= start && u.at < start + size);
    for (const u of units) {
      if (u.at + u.length > start + size)
        throw new InputError("SHARD_BAD_MANIFEST", `unit ${JSON.stringify(u.id.slice(0, 80))} runs past the end of its file`, { file: f.path });
    }
    return { path: f.path, manifest: { ...f.manifest, totalBytes: size, units: units.map((u) => ({ ...u, at: u.at - start })) } };
  });
}

/** Writes the folder `output` from `files` (one checked shard set), each file by `mergeFile`; returns its bytes. */
export async function mergeFolder(
  files: readonly ShardFile[],
  output: string,
  mergeFile: (files: readonly ShardFile[], output: string) => Promise<number>,
): Promise<number> {
  const list = folderFiles(files[0]);
  for (const f of files) {
    const out = f.manifest.units.find((u) => u.at + u.length > f.manifest.totalBytes);
    if (out) throw new InputError("SHARD_BAD_MANIFEST", `unit ${JSON.stringify(out.id.slice(0, 80))} points outside the output`, { file: f.path });
  }
  return writeOutputDir(output, async (tmp) => {
    let start = 0;
    for (const f of list) {
      await mergeFile(view(files, start, f.size), join(tmp, f.name));
      start += f.size;
    }
    return start;
  });
}
