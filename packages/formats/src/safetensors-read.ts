import { open, readFile, readdir, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { decodeToFloat32, isSafetensorsDType, SAFETENSORS_DTYPE_SIZE, type SafetensorsDType } from "./dtypes.js";
import { SafetensorsError, type SafetensorsErrorCode } from "./format-errors.js";

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDType;
  /** row-major, outermost first (torch order) */
  shape: number[];
  /** absolute path of the file holding the tensor */
  file: string;
  /** absolute byte offset in file */
  offset: number;
  byteLength: number;
}

export interface SafetensorsCheckpoint {
  /** the file or directory opened */
  readonly path: string;
  /** in file order (by data offset) for one file, in weight_map order for a sharded checkpoint */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  /** __metadata__ (merged from shards; the first shard wins a conflict) */
  readonly metadata: Record<string, string>;
  /** the tensor's bytes, or the [start, end) range of them; positional read, lazy */
  readBytes(name: string, range?: { start: number; end: number }): Promise<Uint8Array>;
  readFloat32(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Largest JSON header we accept. The reference implementation (safetensors' Rust crate,
 * MAX_HEADER_SIZE) refuses more than 100 MB, so no valid file needs more, and a crafted length
 * cannot make us allocate gigabytes.
 */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/** Largest index JSON we read; real ones for 1000+ shard checkpoints are a few MB. */
export const SAFETENSORS_MAX_INDEX_BYTES = 256 * 1024 * 1024;

function fail(code: SafetensorsErrorCode, file: string, message: string, details: Record<string, unknown> = {}): never {
  throw new SafetensorsError(code, message, { file, details });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface ParsedFile {
  tensors: SafetensorsTensor[];
  metadata: Record<string, string>;
}

/** Reads and validates one file's header: every offset in range, contiguous, and sized by dtype × shape. */
async function readHeader(file: string, fh: FileHandle): Promise<ParsedFile> {
  const { size } = await fh.stat();
  if (size < 8) fail("SAFETENSORS_TRUNCATED", file, `file is ${size} bytes, too short for the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  await fh.read(lenBuf, 0, 8, 0);
  const headerLen = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    fail("SAFETENSORS_HEADER_TOO_LARGE", file, `header claims ${headerLen} bytes; the limit is ${SAFETENSORS_MAX_HEADER_BYTES}`);
  }
  const n = Number(headerLen);
  if (8 + n > size) fail("SAFETENSORS_TRUNCATED", file, `header claims ${n} bytes but the file has only ${size - 8} after the length`);
  const headerBytes = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(headerBytes, got, n - got, 8 + got);
    if (bytesRead === 0) fail("SAFETENSORS_TRUNCATED", file, "file shrank while reading the header");
    got += bytesRead;
  }
  if (headerBytes[0] !== 0x7b /* { */) fail("SAFETENSORS_BAD_JSON", file, "header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (err) {
    fail("SAFETENSORS_BAD_JSON", file, `header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) fail("SAFETENSORS_BAD_JSON", file, "header is not a JSON object");

  const dataStart = 8 + n;
  const dataLen = size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isPlainObject(entry)) fail("SAFETENSORS_BAD_METADATA", file, "__metadata__ is not an object");
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") fail("SAFETENSORS_BAD_METADATA", file, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isPlainObject(entry)) fail("SAFETENSORS_BAD_ENTRY", file, `tensor "${name}" entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== "string" || !isSafetensorsDType(dtype)) {
      fail("SAFETENSORS_UNKNOWN_DTYPE", file, `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail("SAFETENSORS_BAD_SHAPE", file, `tensor "${name}" has invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail("SAFETENSORS_BAD_OFFSETS", file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * SAFETENSORS_DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(expected) || end < begin || end - begin !== expected) {
      fail("SAFETENSORS_BAD_OFFSETS", file, `tensor "${name}" spans ${end - begin} bytes; ${dtype} × [${shape.join(", ")}] needs ${expected}`);
    }
    if (end > dataLen) fail("SAFETENSORS_BAD_OFFSETS", file, `tensor "${name}" ends at ${end}, past the ${dataLen}-byte data section`);
    spans.push({ name, begin, end });
    tensors.push({ name, dtype, shape: shape as number[], file, offset: dataStart + begin, byteLength: end - begin });
  }
  // Like the reference reader: the tensors tile the data section exactly, no gaps, no overlap.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin !== cursor) {
      fail("SAFETENSORS_BAD_OFFSETS", file, `tensor "${s.name}" starts at ${s.begin}, expected ${cursor} (gap or overlap)`);
    }
    cursor = s.end;
  }
  if (cursor !== dataLen) fail("SAFETENSORS_BAD_OFFSETS", file, `tensors cover ${cursor} bytes but the data section has ${dataLen}`);
  tensors.sort((a, b) => a.offset - b.offset);
  return { tensors, metadata };
}

/** Shard names in an index must be plain file names next to it: no directories, no "..". */
function checkShardName(indexPath: string, name: unknown): string {
  if (typeof name !== "string" || name.length === 0 || name !== basename(name) || name === "." || name === "..") {
    fail("SAFETENSORS_BAD_INDEX", indexPath, `weight_map names an invalid shard file ${JSON.stringify(name)}`);
  }
  return name;
}

async function locate(pathOrDir: string): Promise<{ kind: "file" | "index"; path: string }> {
  const abs = resolve(pathOrDir);
  let st;
  try {
    st = await stat(abs);
  } catch {
    fail("SAFETENSORS_NOT_FOUND", abs, "no such file or directory");
  }
  if (!st.isDirectory()) return { kind: abs.endsWith(".index.json") ? "index" : "file", path: abs };
  const names = await readdir(abs);
  if (names.includes("model.safetensors.index.json")) return { kind: "index", path: join(abs, "model.safetensors.index.json") };
  if (names.includes("model.safetensors")) return { kind: "file", path: join(abs, "model.safetensors") };
  const indexes = names.filter((n) => n.endsWith(".safetensors.index.json"));
  if (indexes.length === 1) return { kind: "index", path: join(abs, indexes[0]!) };
  const files = names.filter((n) => n.endsWith(".safetensors"));
  if (indexes.length === 0 && files.length === 1) return { kind: "file", path: join(abs, files[0]!) };
  fail(
    "SAFETENSORS_NOT_FOUND",
    abs,
    `no model.safetensors or model.safetensors.index.json (found ${indexes.length} index files, ${files.length} .safetensors files)`,
  );
}

/**
 * Opens a safetensors checkpoint: a file, a directory holding model.safetensors, or a sharded
 * directory described by model.safetensors.index.json. Only headers are read here; tensor bytes are
 * read positionally on demand.
 */
export async function openSafetensors(pathOrDir: string): Promise<SafetensorsCheckpoint> {
  const where = await locate(pathOrDir);
  const handles = new Map<string, FileHandle>();
  const openFile = async (file: string): Promise<FileHandle> => {
    let fh = handles.get(file);
    if (!fh) {
      fh = await open(file, "r");
      handles.set(file, fh);
    }
    return fh;
  };
  try {
    const tensors = new Map<string, SafetensorsTensor>();
    const metadata: Record<string, string> = {};
    if (where.kind === "file") {
      const parsed = await readHeader(where.path, await openFile(where.path));
      for (const t of parsed.tensors) tensors.set(t.name, t);
      Object.assign(metadata, parsed.metadata);
    } else {
      const indexPath = where.path;
      const st = await stat(indexPath);
      if (st.size > SAFETENSORS_MAX_INDEX_BYTES)
        fail("SAFETENSORS_BAD_INDEX", indexPath, `index is ${st.size} bytes; the limit is ${SAFETENSORS_MAX_INDEX_BYTES}`);
      let index: unknown;
      try {
        index = JSON.parse(await readFile(indexPath, "utf8"));
      } catch (err) {
        fail("SAFETENSORS_BAD_INDEX", indexPath, `index is not valid JSON (${(err as Error).message})`);
      }
      if (!isPlainObject(index) || !isPlainObject(index.weight_map)) fail("SAFETENSORS_BAD_INDEX", indexPath, "index has no weight_map object");
      const weightMap = index.weight_map;
      const dir = dirname(indexPath);
      const shardNames = [...new Set(Object.values(weightMap).map((n) => checkShardName(indexPath, n)))];
      const byShard = new Map<string, Map<string, SafetensorsTensor>>();
      for (const shard of shardNames) {
        const file = join(dir, shard);
        let fh: FileHandle;
        try {
          fh = await open(file, "r");
        } catch {
          fail("SAFETENSORS_INDEX_MISMATCH", indexPath, `weight_map names shard ${shard}, which does not exist`);
        }
        // Headers only: close again, so a 1000-shard checkpoint does not hold 1000 descriptors.
        const parsed = await readHeader(file, fh).finally(() => fh.close());
        byShard.set(shard, new Map(parsed.tensors.map((t) => [t.name, t])));
        for (const [k, v] of Object.entries(parsed.metadata)) if (!(k in metadata)) metadata[k] = v;
      }
      for (const [name, shard] of Object.entries(weightMap)) {
        const t = byShard.get(shard as string)!.get(name);
        if (!t) fail("SAFETENSORS_INDEX_MISMATCH", indexPath, `weight_map puts "${name}" in ${String(shard)}, which does not hold it`);
        tensors.set(name, t);
      }
      for (const [shard, ts] of byShard) {
        for (const name of ts.keys()) {
          if (weightMap[name] !== shard) {
            fail(
              "SAFETENSORS_INDEX_MISMATCH",
              indexPath,
              `shard ${shard} holds "${name}", which weight_map ${name in weightMap ? `puts in ${String(weightMap[name])}` : "does not list"}`,
            );
          }
        }
      }
    }
    return new Checkpoint(resolve(pathOrDir), tensors, metadata, openFile, handles);
  } catch (err) {
    await Promise.all([...handles.values()].map((h) => h.close().catch(() => undefined)));
    throw err;
  }
}

class Checkpoint implements SafetensorsCheckpoint {
  private closed = false;
  constructor(
    readonly path: string,
    readonly tensors: ReadonlyMap<string, SafetensorsTensor>,
    readonly metadata: Record<string, string>,
    private readonly openFile: (file: string) => Promise<FileHandle>,
    private readonly handles: Map<string, FileHandle>,
  ) {}

  private get(name: string): SafetensorsTensor {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError("SAFETENSORS_NO_TENSOR", `no tensor named "${name}"`, { file: this.path });
    return t;
  }

  async readBytes(name: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    const t = this.get(name);
    const start = range?.start ?? 0;
    const end = range?.end ?? t.byteLength;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= t.byteLength)) {
      throw new RangeError(`${t.file}: byte range [${start}, ${end}) is outside tensor ${name} (${t.byteLength} bytes)`);
    }
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const fh = await this.openFile(t.file);
    const out = new Uint8Array(end - start);
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await fh.read(out, got, out.length - got, t.offset + start + got);
      if (bytesRead === 0) throw new SafetensorsError("SAFETENSORS_TRUNCATED", `file ends inside tensor ${name}`, { file: t.file });
      got += bytesRead;
    }
    return out;
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.get(name);
    return decodeToFloat32(await this.readBytes(name), t.dtype);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.handles.values()].map((h) => h.close()));
    this.handles.clear();
  }
}
