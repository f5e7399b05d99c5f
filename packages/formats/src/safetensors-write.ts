import { unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AtomicFileWriter, writeFileAtomic } from "./atomic-file.js";
import { isSafetensorsDType, SAFETENSORS_DTYPE_SIZE, type SafetensorsDType } from "./dtypes.js";
import { SafetensorsError } from "./format-errors.js";

export interface SafetensorsWriterOptions {
  /**
   * Start a new shard when the next tensor would push the current one past this many data bytes
   * (a single larger tensor gets a shard of its own). Shards are named
   * `<base>-0000i-of-0000N.safetensors` next to `path`, plus `<base>.safetensors.index.json` with
   * `metadata.total_size` and `weight_map`. When everything fits in one shard, a single file is
   * written at `path` and no index, as Transformers does.
   */
  maxShardBytes?: number;
  /** __metadata__ strings written into every file. Defaults to { format: "pt" }, which Transformers expects. */
  metadata?: Record<string, string>;
}

interface PlannedTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  byteLength: number;
  shard: number;
}

interface Shard {
  file: string;
  tensors: PlannedTensor[];
  dataBytes: number;
}

export interface SafetensorsWriteResult {
  /** every file written, index last when there is one */
  files: string[];
  totalBytes: number;
}

const FILE_SUFFIX = ".safetensors";

/**
 * Streams a safetensors checkpoint: declare every tensor (name, dtype, shape) up front, then write
 * each tensor's bytes in declaration order, in as many chunks as convenient, then `finish()`.
 * Each shard file is written crash-safely (temp name, fsync, rename) and committed as soon as it is
 * complete; the index is written last, so a crash never leaves an index pointing at missing data.
 */
export class SafetensorsWriter {
  readonly path: string;
  private readonly maxShardBytes: number | undefined;
  private readonly metadata: Record<string, string>;
  private readonly planned: PlannedTensor[] = [];
  private readonly names = new Set<string>();
  private shards: Shard[] = [];
  private state: "planning" | "data" | "done" = "planning";
  private open: AtomicFileWriter | undefined;
  private openShard = -1;
  private current = 0;
  private currentWritten = 0;
  private readonly written: string[] = [];
  private indexPath = "";

  constructor(path: string, opts: SafetensorsWriterOptions = {}) {
    this.path = path;
    if (opts.maxShardBytes !== undefined && !(Number.isSafeInteger(opts.maxShardBytes) && opts.maxShardBytes > 0)) {
      throw new RangeError(`maxShardBytes must be a positive integer, got ${opts.maxShardBytes}`);
    }
    this.maxShardBytes = opts.maxShardBytes;
    this.metadata = { ...(opts.metadata ?? { format: "pt" }) };
  }

  private fail(
    message: string,
    code:
      | "SAFETENSORS_WRITE_ORDER"
      | "SAFETENSORS_BAD_ENTRY"
      | "SAFETENSORS_BAD_SHAPE"
      | "SAFETENSORS_DUPLICATE_TENSOR"
      | "SAFETENSORS_UNKNOWN_DTYPE"
      | "SAFETENSORS_BAD_METADATA" = "SAFETENSORS_WRITE_ORDER",
  ): never {
    throw new SafetensorsError(code, message, { file: this.path });
  }

  setMetadata(key: string, value: string): void {
    if (this.state !== "planning") this.fail(`cannot set metadata "${key}" after the header is written`);
    if (typeof value !== "string") this.fail(`__metadata__ values must be strings (${key})`, "SAFETENSORS_BAD_METADATA");
    this.metadata[key] = value;
  }

  /** Declares a tensor; shape is row-major, outermost first. */
  addTensor(name: string, dtype: SafetensorsDType, shape: number[]): void {
    if (this.state !== "planning") this.fail(`cannot add tensor "${name}" after the header is written`);
    if (name.length === 0 || name === "__metadata__") this.fail(`invalid tensor name "${name}"`, "SAFETENSORS_BAD_ENTRY");
    if (this.names.has(name)) this.fail(`tensor "${name}" added twice`, "SAFETENSORS_DUPLICATE_TENSOR");
    if (!isSafetensorsDType(dtype)) this.fail(`tensor "${name}": unsupported dtype ${String(dtype)}`, "SAFETENSORS_UNKNOWN_DTYPE");
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) this.fail(`tensor "${name}" has shape [${shape.join(", ")}]`, "SAFETENSORS_BAD_SHAPE");
    const byteLength = shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_SIZE[dtype];
    this.names.add(name);
    this.planned.push({ name, dtype, shape: [...shape], byteLength, shard: -1 });
  }

  /** Assigns tensors to shards (greedy in declaration order) and names the files. */
  private plan(): void {
    const { shards, indexPath } = planShards(this.path, this.planned, this.maxShardBytes);
    this.shards = shards;
    this.indexPath = indexPath;
  }

  /** The file names the checkpoint will have (valid after writeHeader). */
  get files(): string[] {
    return this.shards.map((s) => s.file);
  }

  private headerFor(shard: Shard): Uint8Array {
    return shardHeader(shard, this.metadata);
  }

  /** The byte layout the declared tensors will have (call before writeHeader; see planSafetensorsLayout). */
  layout(): SafetensorsLayout {
    if (this.state !== "planning") this.fail("layout() after the header is written");
    this.plan();
    const files = this.shards.map((sh) => {
      const header = this.headerFor(sh);
      return { path: sh.file, header, size: header.length + sh.dataBytes };
    });
    const at = this.shards.map((_, i) => files[i]!.header.length);
    const tensors = this.planned.map((t) => {
      const offset = at[t.shard]!;
      at[t.shard] = offset + t.byteLength;
      return { name: t.name, file: t.shard, offset, byteLength: t.byteLength };
    });
    const totalBytes = this.planned.reduce((a, p) => a + p.byteLength, 0);
    const index = this.shards.length > 1 ? { path: this.indexPath, text: indexJson(this.planned, this.shards, totalBytes) } : undefined;
    return { files, tensors, index };
  }

  /** Fixes the shard plan. Called by the first writeTensorData if not called before. */
  async writeHeader(): Promise<void> {
    if (this.state !== "planning") this.fail("writeHeader called twice");
    this.plan();
    this.state = "data";
    await this.advance();
  }

  /** Skips finished and empty tensors; commits a finished shard and opens the next one. */
  private async advance(): Promise<void> {
    while (true) {
      const t = this.planned[this.current];
      // After the last tensor the final shard stays open until finish() commits it.
      const shardIndex = t ? t.shard : this.state === "done" ? this.shards.length : this.openShard;
      // Open every shard up to the one holding the next tensor (empty shards get written whole).
      while (this.openShard < shardIndex) {
        if (this.open) {
          await this.open.commit();
          this.written.push(this.shards[this.openShard]!.file);
          this.open = undefined;
        }
        this.openShard++;
        if (this.openShard >= this.shards.length) return;
        const shard = this.shards[this.openShard]!;
        this.open = await AtomicFileWriter.open(shard.file);
        await this.open.write(this.headerFor(shard));
      }
      if (!t || t.byteLength > 0) return;
      this.current++;
    }
  }

  /** Appends bytes of tensor `name`, which must be the next one in declaration order. */
  async writeTensorData(name: string, bytes: Uint8Array): Promise<void> {
    if (this.state === "planning") await this.writeHeader();
    if (this.state !== "data") this.fail(`cannot write "${name}" after finish/abort`);
    // Empty tensors need no data and are skipped automatically; a zero-length write for one is a no-op.
    if (bytes.byteLength === 0 && this.names.has(name)) return;
    const t = this.planned[this.current];
    if (!t || t.name !== name) this.fail(`got data for "${name}" but the next tensor is ${t ? `"${t.name}"` : "none (all written)"}`);
    if (this.currentWritten + bytes.byteLength > t.byteLength) {
      this.fail(`tensor "${name}" takes ${t.byteLength} bytes; got ${this.currentWritten + bytes.byteLength}`);
    }
    try {
      await this.open!.write(bytes);
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.currentWritten += bytes.byteLength;
    if (this.currentWritten === t.byteLength) {
      this.current++;
      this.currentWritten = 0;
      await this.advance();
    }
  }

  /** Checks every tensor was written in full, commits the last shard, then writes the index. */
  async finish(): Promise<SafetensorsWriteResult> {
    if (this.state === "planning") await this.writeHeader();
    if (this.state !== "data") this.fail("finish called twice or after abort");
    const t = this.planned[this.current];
    if (t) {
      await this.abort();
      this.fail(`finish() before tensor "${t.name}" was written (${this.currentWritten}/${t.byteLength} bytes)`);
    }
    this.state = "done";
    await this.advance(); // commits the last open shard
    const totalBytes = this.planned.reduce((a, p) => a + p.byteLength, 0);
    if (this.shards.length > 1) {
      await writeFileAtomic(this.indexPath, indexJson(this.planned, this.shards, totalBytes));
      this.written.push(this.indexPath);
    }
    return { files: [...this.written], totalBytes };
  }

  /** Discards the shard being written and deletes shards already committed (no index was written for them). */
  async abort(): Promise<void> {
    this.state = "done";
    await this.open?.abort();
    this.open = undefined;
    await Promise.all(this.written.map((f) => unlink(f).catch(() => undefined)));
    this.written.length = 0;
  }
}

/** Deals tensors to shard files (greedy in declaration order, a new file past `maxShardBytes`) and names them. */
function planShards(path: string, planned: PlannedTensor[], maxShardBytes: number | undefined): { shards: Shard[]; indexPath: string } {
  const shards: Shard[] = [];
  let indexPath = "";
  let cur: Shard | undefined;
  for (const t of planned) {
    if (!cur || (maxShardBytes !== undefined && cur.tensors.length > 0 && cur.dataBytes + t.byteLength > maxShardBytes)) {
      cur = { file: "", tensors: [], dataBytes: 0 };
      shards.push(cur);
    }
    t.shard = shards.length - 1;
    cur.tensors.push(t);
    cur.dataBytes += t.byteLength;
  }
  if (shards.length === 0) shards.push({ file: "", tensors: [], dataBytes: 0 });
  if (shards.length === 1) {
    shards[0]!.file = path;
  } else {
    const dir = dirname(path);
    const base = basename(path).endsWith(FILE_SUFFIX) ? basename(path).slice(0, -FILE_SUFFIX.length) : basename(path);
    const n = String(shards.length).padStart(5, "0");
    indexPath = join(dir, `${base}${FILE_SUFFIX}.index.json`);
    shards.forEach((s, i) => (s.file = join(dir, `${base}-${String(i + 1).padStart(5, "0")}-of-${n}${FILE_SUFFIX}`)));
  }
  return { shards, indexPath };
}

/** A shard file's header: length, JSON (tensors at consecutive offsets), space padding to 8 bytes. */
function shardHeader(shard: Shard, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of shard.tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** The `.index.json` of a sharded checkpoint. */
function indexJson(planned: readonly PlannedTensor[], shards: readonly Shard[], totalBytes: number): string {
  const weightMap: Record<string, string> = {};
  for (const p of planned) weightMap[p.name] = basename(shards[p.shard]!.file);
  return JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: weightMap }, null, 2) + "\n";
}

/** Where every byte of a safetensors checkpoint goes, as SafetensorsWriter would write it. */
export interface SafetensorsLayout {
  /** Each file: its path, header bytes and full size (header + data). */
  readonly files: readonly { readonly path: string; readonly header: Uint8Array; readonly size: number }[];
  /** Each tensor, in declaration order: its file (index into `files`) and absolute byte offset there. */
  readonly tensors: readonly { readonly name: string; readonly file: number; readonly offset: number; readonly byteLength: number }[];
  /** The index file and its text when the checkpoint has more than one file. */
  readonly index?: { readonly path: string; readonly text: string };
}

/**
 * Plans a checkpoint byte for byte without writing it (same sharding, names, headers and index as
 * SafetensorsWriter), so a resumable writer can put each tensor at its final place in any order.
 */
export function planSafetensorsLayout(
  path: string,
  tensors: readonly { name: string; dtype: SafetensorsDType; shape: number[] }[],
  opts: SafetensorsWriterOptions = {},
): SafetensorsLayout {
  const w = new SafetensorsWriter(path, opts); // validates names, dtypes, shapes and options as the writer does
  for (const t of tensors) w.addTensor(t.name, t.dtype, t.shape);
  return w.layout();
}
