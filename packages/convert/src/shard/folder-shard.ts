/**
 * Shards of a command that writes a safetensors folder (`moeq gptq`, `moeq awq`): kind "safetensors". A shard
 * stores finished tensors (id `tensor NAME`, the bytes the unsharded run writes) and whole files (id `file NAME`:
 * index, configs, tokenizer files, reports); shard 1 also stores the folder's layout — which safetensors files, in
 * which order, with which tensors declared in which order, and the other files. `moeq merge` replays that layout
 * through the same SafetensorsWriter calls as the unsharded run, so the folder is byte-identical, and writes it
 * through a temp folder renamed into place (nothing under the final name unless complete).
 */
import { readdirSync, statSync } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, SafetensorsWriter, isSafetensorsDType, type SafetensorsDType } from "@moeq/formats";
import { writeOutputDir } from "../output-dir.js";
import { COPY_CHUNK_BYTES, ShardFileWriter, copyUnit, readUnit, shardFilePath, type ShardFile, type ShardUnit } from "./shard-file.js";
import type { ShardSpec } from "./shard-spec.js";

export const FOLDER_SHARD_KIND = "safetensors";

/** One tensor as a SafetensorsWriter declares it. */
export interface DeclaredTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
}

/** What the output folder holds and in what order the unsharded run writes it. */
export interface FolderLayout {
  /** SafetensorsWriters, in order: path in the folder, its maxShardBytes, its tensors in declaration order. */
  readonly writers: readonly { readonly path: string; readonly maxShardBytes?: number; readonly tensors: readonly DeclaredTensor[] }[];
  /** Other files of the folder (each stored whole by some shard). */
  readonly files: readonly string[];
}

const LAYOUT_UNIT = "layout";
const tensorUnit = (name: string): string => `tensor ${name}`;
const fileUnit = (name: string): string => `file ${name}`;

/** Units of a whole run: the layout, every tensor and every file. */
export function folderUnitCount(layout: FolderLayout): number {
  return 1 + layout.writers.reduce((n, w) => n + w.tensors.length, 0) + layout.files.length;
}

/** The shard file of one sharded safetensors-folder run. */
export class FolderShardWriter {
  private constructor(
    private readonly out: ShardFileWriter,
    readonly path: string,
  ) {}

  /** Opens `<output>.shard-i-of-N`; shard 1 stores `layout` (every shard passes the same one). */
  static async open(output: string, spec: ShardSpec, fingerprint: string, layout: FolderLayout): Promise<FolderShardWriter> {
    const path = shardFilePath(output, spec);
    const out = await ShardFileWriter.open(path, {
      kind: FOLDER_SHARD_KIND,
      fingerprint,
      index: spec.index,
      count: spec.count,
      totalUnits: folderUnitCount(layout),
      totalBytes: 0,
    });
    try {
      if (spec.index === 1) await out.add(LAYOUT_UNIT, 0, Buffer.from(JSON.stringify(layout), "utf8"));
    } catch (err) {
      await out.abort();
      throw err;
    }
    return new FolderShardWriter(out, path);
  }

  addTensor(name: string, bytes: Uint8Array): Promise<void> {
    return this.out.add(tensorUnit(name), 0, bytes);
  }

  addFile(name: string, bytes: Uint8Array): Promise<void> {
    return this.out.add(fileUnit(name), 0, bytes);
  }

  finish(): Promise<void> {
    return this.out.finish();
  }

  abort(): Promise<void> {
    return this.out.abort();
  }
}

/** A file name inside the output folder: one plain path component. */
function checkName(name: unknown, what: string, file: string): string {
  if (typeof name !== "string" || name === "" || name === "." || name === ".." || /[/\\\0]/.test(name))
    throw new InputError("SHARD_BAD_MANIFEST", `layout names ${what} ${JSON.stringify(String(name).slice(0, 80))}, not a file name in the folder`, { file });
  return name;
}

function checkLayout(v: unknown, file: string): FolderLayout {
  const r = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if (!Array.isArray(r.writers) || !Array.isArray(r.files)) throw new InputError("SHARD_BAD_MANIFEST", "layout lacks writers or files", { file });
  for (const w of r.writers as Record<string, unknown>[]) {
    checkName(w?.path, "a safetensors file", file);
    const okShard = w.maxShardBytes === undefined || (Number.isSafeInteger(w.maxShardBytes) && (w.maxShardBytes as number) > 0);
    const okTensors =
      Array.isArray(w.tensors) &&
      (w.tensors as Record<string, unknown>[]).every(
        (t) =>
          typeof t?.name === "string" &&
          typeof t.dtype === "string" &&
          isSafetensorsDType(t.dtype) &&
          Array.isArray(t.shape) &&
          t.shape.every((d) => Number.isSafeInteger(d) && d >= 0),
      );
    if (!okShard || !okTensors) throw new InputError("SHARD_BAD_MANIFEST", "layout has a malformed safetensors writer", { file });
  }
  for (const f of r.files) checkName(f, "a file", file);
  return r as unknown as FolderLayout;
}

/** `moeq merge` for safetensors-folder shards: the layout replayed into a temp folder, renamed to `output`. */
export async function mergeFolderShards(files: readonly ShardFile[], output: string): Promise<number> {
  const units = new Map<string, { f: ShardFile; u: ShardUnit }>();
  for (const f of files) for (const u of f.manifest.units) units.set(u.id, { f, u });
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  const unit = async (id: string) => {
    const found = units.get(id);
    if (!found) throw new InputError("SHARD_MISSING", `no shard holds ${JSON.stringify(id.slice(0, 80))}, which the layout names`, { file: files[0].path });
    let fh = handles.get(found.f.path);
    if (!fh) handles.set(found.f.path, (fh = await open(found.f.path, "r")));
    return { fh, ...found };
  };
  const payload = async (id: string): Promise<Buffer> => {
    const { fh, f, u } = await unit(id);
    return readUnit(fh, f.path, u);
  };
  const chunk = Buffer.alloc(COPY_CHUNK_BYTES);
  try {
    const layoutFile = units.get(LAYOUT_UNIT)?.f.path ?? files[0].path;
    let parsed: unknown;
    try {
      parsed = JSON.parse((await payload(LAYOUT_UNIT)).toString("utf8"));
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError("SHARD_BAD_MANIFEST", "the folder layout is not valid JSON", { file: layoutFile });
    }
    const layout = checkLayout(parsed, layoutFile);
    return await writeOutputDir(output, async (tmp) => {
      for (const w of layout.writers) {
        const writer = new SafetensorsWriter(join(tmp, w.path), w.maxShardBytes === undefined ? {} : { maxShardBytes: w.maxShardBytes });
        for (const t of w.tensors) writer.addTensor(t.name, t.dtype, [...t.shape]);
        try {
          for (const t of w.tensors) {
            // streamed in chunks (an embedding table can be gigabytes); CRC32 checked at the end of each
            const { fh, f, u } = await unit(tensorUnit(t.name));
            await copyUnit(fh, f.path, u, (b) => writer.writeTensorData(t.name, b), chunk);
          }
        } catch (err) {
          await writer.abort();
          throw err;
        }
        await writer.finish();
      }
      for (const name of layout.files) await writeFile(join(tmp, name), await payload(fileUnit(name)));
      return readdirSync(tmp).reduce((n, f) => n + statSync(join(tmp, f)).size, 0);
    });
  } finally {
    for (const fh of handles.values()) await fh.close();
  }
}
