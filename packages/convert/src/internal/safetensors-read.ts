/**
 * Safetensors checkpoint index (single file or sharded with model.safetensors.index.json) with positional
 * reads: only the header is parsed up front, tensor bytes are read on demand. Tensor order follows
 * llama.cpp's converter (conversion/base.py index_tensors): parts in sorted order, names sorted within a part.
 */
import { openSync, readSync, closeSync, readdirSync, existsSync, readFileSync, fstatSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "@moeq/formats";

export type SafetensorsDType = "F32" | "F16" | "BF16";
const DTYPE_BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface CheckpointTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly file: string;
  /** Absolute offset of the tensor's first byte in `file`. */
  readonly offset: number;
  readonly nbytes: number;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function readSafetensorsHeader(file: string): CheckpointTensor[] {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const lenBuf = Buffer.alloc(8);
    if (readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new InputError("ST_TRUNCATED", "file shorter than 8 bytes", { file });
    const n = Number(lenBuf.readBigUInt64LE());
    if (n > MAX_HEADER_BYTES || 8 + n > size) throw new InputError("ST_BAD_HEADER", `header length ${n} is invalid for a ${size}-byte file`, { file });
    const hb = Buffer.alloc(n);
    readSync(fd, hb, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString("utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new InputError("ST_BAD_HEADER", `header is not JSON: ${(e as Error).message}`, { file });
    }
    const out: CheckpointTensor[] = [];
    for (const [name, meta] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const m = meta as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      if (!m.dtype || !(m.dtype in DTYPE_BYTES)) {
        throw new InputError("ST_DTYPE", `tensor ${name} has dtype ${m.dtype}; supported: F32, F16, BF16`, { file });
      }
      const dtype = m.dtype as SafetensorsDType;
      if (!Array.isArray(m.shape) || !Array.isArray(m.data_offsets)) throw new InputError("ST_BAD_HEADER", `tensor ${name} lacks shape/data_offsets`, { file });
      const numel = m.shape.reduce((a, b) => a * b, 1);
      const nbytes = m.data_offsets[1] - m.data_offsets[0];
      if (nbytes !== numel * DTYPE_BYTES[dtype]) throw new InputError("ST_BAD_HEADER", `tensor ${name}: ${nbytes} bytes for shape [${m.shape}]`, { file });
      const offset = 8 + n + m.data_offsets[0];
      if (offset + nbytes > size) throw new InputError("ST_TRUNCATED", `tensor ${name} runs past the end of the file`, { file });
      out.push({ name, dtype, shape: m.shape, file, offset, nbytes });
    }
    // same order as safetensors' own Python binding and gguf-py's SafetensorsLocal: by name
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  } finally {
    closeSync(fd);
  }
}

/** All tensors of an HF checkpoint directory, in the converter's order. */
export function indexCheckpoint(dir: string): CheckpointTensor[] {
  const indexFile = join(dir, "model.safetensors.index.json");
  let parts: string[];
  if (existsSync(indexFile)) {
    const idx = JSON.parse(readFileSync(indexFile, "utf8")) as { weight_map?: Record<string, string> };
    if (!idx.weight_map || typeof idx.weight_map !== "object") throw new InputError("ST_BAD_INDEX", "no weight_map", { file: indexFile });
    parts = [...new Set(Object.values(idx.weight_map))].sort();
  } else {
    parts = readdirSync(dir).filter((f) => f.startsWith("model") && f.endsWith(".safetensors")).sort();
  }
  if (parts.length === 0) throw new InputError("ST_NONE", "no model*.safetensors files in the checkpoint directory", { file: dir });
  const all: CheckpointTensor[] = [];
  for (const p of parts) {
    const f = join(dir, p);
    if (!existsSync(f)) throw new InputError("ST_MISSING_PART", `shard ${p} named in the index is missing`, { file: f });
    all.push(...readSafetensorsHeader(f));
  }
  return all;
}

/** Positional reader with one cached file descriptor per shard. */
export class CheckpointReader {
  private readonly fds = new Map<string, number>();

  read(t: CheckpointTensor, offset: number, length: number, into?: Buffer): Buffer {
    let fd = this.fds.get(t.file);
    if (fd === undefined) {
      fd = openSync(t.file, "r");
      this.fds.set(t.file, fd);
    }
    const b = into ?? Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, b, done, length - done, t.offset + offset + done);
      if (n <= 0) throw new InputError("ST_TRUNCATED", `short read in ${t.name}`, { file: t.file });
      done += n;
    }
    return b;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

export function dtypeBytes(d: SafetensorsDType): number {
  return DTYPE_BYTES[d];
}
