/**
 * A GGUF file as TensorSources (positional reads, quantized bytes untouched) plus its metadata.
 * Small internal reader until @moeq/formats' `openGguf` lands; validates counts, names and offsets.
 */
import { openSync, readSync, closeSync, fstatSync } from "node:fs";
import { GGMLType, GGML_TYPE_INFO, InputError, isGGMLType, ggmlRowBytes } from "@moeq/formats";
import type { TensorSource } from "./weight-store.js";

export type GgufMetaValue = number | bigint | boolean | string | GgufMetaValue[];

export interface GgufTensorEntry {
  readonly name: string;
  readonly ne: readonly number[];
  readonly type: GGMLType;
  /** Absolute file offset. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly path: string;
  readonly metadata: ReadonlyMap<string, GgufMetaValue>;
  readonly tensors: readonly GgufTensorEntry[];
  get(key: string): GgufMetaValue | undefined;
  sources(): Map<string, TensorSource>;
  close(): void;
}

class Cursor {
  pos = 0;
  private buf = new Uint8Array(0);
  private bufStart = 0;
  constructor(private readonly fd: number, private readonly size: number, private readonly file: string) {}

  private need(n: number): DataView {
    if (this.pos + n > this.size) throw new InputError("GGUF_TRUNCATED", `header runs past the end of the file (byte ${this.pos + n})`, { file: this.file });
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      this.buf = new Uint8Array(len);
      readSync(this.fd, this.buf, 0, len, this.pos);
      this.bufStart = this.pos;
    }
    const v = new DataView(this.buf.buffer, this.pos - this.bufStart, n);
    this.pos += n;
    return v;
  }
  u8 = () => this.need(1).getUint8(0);
  i8 = () => this.need(1).getInt8(0);
  u16 = () => this.need(2).getUint16(0, true);
  i16 = () => this.need(2).getInt16(0, true);
  u32 = () => this.need(4).getUint32(0, true);
  i32 = () => this.need(4).getInt32(0, true);
  f32 = () => this.need(4).getFloat32(0, true);
  f64 = () => this.need(8).getFloat64(0, true);
  u64 = () => this.need(8).getBigUint64(0, true);
  i64 = () => this.need(8).getBigInt64(0, true);
  count(what: string): number {
    const v = this.u64();
    if (v > BigInt(this.size)) throw new InputError("GGUF_BAD_COUNT", `${what} count ${v} exceeds the file size`, { file: this.file });
    return Number(v);
  }
  str(): string {
    const n = this.count("string length");
    const v = this.need(n);
    return new TextDecoder().decode(new Uint8Array(v.buffer, v.byteOffset, n));
  }
}

function readValue(c: Cursor, type: number, file: string): GgufMetaValue {
  switch (type) {
    case 0: return c.u8();
    case 1: return c.i8();
    case 2: return c.u16();
    case 3: return c.i16();
    case 4: return c.u32();
    case 5: return c.i32();
    case 6: return c.f32();
    case 7: return c.u8() !== 0;
    case 8: return c.str();
    case 9: {
      const et = c.u32();
      const n = c.count("array");
      const out: GgufMetaValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, file);
      return out;
    }
    case 10: return c.u64();
    case 11: return c.i64();
    case 12: return c.f64();
    default:
      throw new InputError("GGUF_BAD_VALUE_TYPE", `unknown metadata value type ${type}`, { file });
  }
}

export function openGgufFile(path: string): GgufFile {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size, path);
    if (c.u32() !== 0x46554747) throw new InputError("GGUF_BAD_MAGIC", "not a GGUF file (bad magic)", { file: path });
    const version = c.u32();
    if (version !== 2 && version !== 3) throw new InputError("GGUF_BAD_VERSION", `unsupported GGUF version ${version}`, { file: path });
    const nTensors = c.count("tensor");
    const nKv = c.count("metadata");
    const metadata = new Map<string, GgufMetaValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.str();
      if (metadata.has(key)) throw new InputError("GGUF_DUPLICATE_KEY", `duplicate metadata key ${key}`, { file: path });
      metadata.set(key, readValue(c, c.u32(), path));
    }
    const infos: { name: string; ne: number[]; type: GGMLType; rel: number }[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.str();
      const nDims = c.u32();
      if (nDims > 4) throw new InputError("GGUF_BAD_DIMS", `tensor ${name} has ${nDims} dimensions`, { file: path });
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(c.count(`tensor ${name} dim`));
      const type = c.u32();
      if (!isGGMLType(type)) throw new InputError("GGUF_BAD_TYPE", `tensor ${name} has unknown ggml type ${type}`, { file: path });
      infos.push({ name, ne, type, rel: Number(c.u64()) });
    }
    const alignment = Number(metadata.get("general.alignment") ?? 32);
    const dataStart = Math.ceil(c.pos / alignment) * alignment;
    const tensors: GgufTensorEntry[] = infos.map((t) => {
      const byteLength = ggmlRowBytes(t.type, t.ne[0]) * t.ne.slice(1).reduce((a, b) => a * b, 1);
      const offset = dataStart + t.rel;
      if (offset + byteLength > size) {
        throw new InputError("GGUF_BAD_OFFSET", `tensor ${t.name} (${GGML_TYPE_INFO[t.type].name}) data runs past the end of the file`, { file: path });
      }
      return { name: t.name, ne: t.ne, type: t.type, offset, byteLength };
    });
    const readAt = (pos: number, len: number) => {
      const buf = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const n = readSync(fd, buf, done, len - done, pos + done);
        if (n === 0) throw new InputError("GGUF_TRUNCATED", `file ends before byte ${pos + len}`, { file: path });
        done += n;
      }
      return buf;
    };
    let closed = false;
    return {
      path,
      metadata,
      tensors,
      get: (k) => metadata.get(k),
      sources: () => {
        const m = new Map<string, TensorSource>();
        for (const t of tensors) {
          const rowBytes = ggmlRowBytes(t.type, t.ne[0]);
          const sliceBytes = rowBytes * (t.ne[1] ?? 1);
          m.set(t.name, {
            type: t.type,
            ne: t.ne,
            readSlice: (e) => readAt(t.offset + (e ?? 0) * sliceBytes, e === undefined ? t.byteLength : sliceBytes),
            readRow: (r) => readAt(t.offset + r * rowBytes, rowBytes),
          });
        }
        return m;
      },
      close: () => {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
