/**
 * Minimal GGUF v3 reader and streaming writer used by the converter (an internal adapter until
 * @moeq/formats' openGguf / GGUFWriter land). Layout per ggml/src/gguf.cpp: header, KVs, tensor
 * infos, zero pad to alignment, then each tensor's bytes followed by zero padding to alignment.
 * The writer is crash-safe: it writes `<out>.tmp-<pid>`, fsyncs, then renames.
 */
import { openSync, readSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, fstatSync } from "node:fs";
import { InputError, GGMLType, GGML_TYPE_INFO, isGGMLType } from "@moeq/formats";

export enum GGUFValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export type GGUFScalar = number | bigint | boolean | string;
/** One metadata value with its wire type kept, so a read → write round trip loses nothing. */
export type GGUFKV =
  | { readonly type: Exclude<GGUFValueType, GGUFValueType.ARRAY>; readonly value: GGUFScalar }
  | { readonly type: GGUFValueType.ARRAY; readonly itemType: Exclude<GGUFValueType, GGUFValueType.ARRAY>; readonly value: readonly GGUFScalar[] };

export const kvU32 = (v: number): GGUFKV => ({ type: GGUFValueType.UINT32, value: v });
export const kvI32 = (v: number): GGUFKV => ({ type: GGUFValueType.INT32, value: v });
export const kvF32 = (v: number): GGUFKV => ({ type: GGUFValueType.FLOAT32, value: v });
export const kvBool = (v: boolean): GGUFKV => ({ type: GGUFValueType.BOOL, value: v });
export const kvStr = (v: string): GGUFKV => ({ type: GGUFValueType.STRING, value: v });
export const kvArr = (itemType: Exclude<GGUFValueType, GGUFValueType.ARRAY>, value: readonly GGUFScalar[]): GGUFKV => ({
  type: GGUFValueType.ARRAY,
  itemType,
  value,
});

export interface GGUFTensorInfo {
  readonly name: string;
  /** ggml order: ne[0] is the row length. */
  readonly ne: readonly number[];
  readonly type: GGMLType;
}

export interface GGUFReadTensor extends GGUFTensorInfo {
  /** Absolute file offset of the tensor's bytes. */
  readonly fileOffset: number;
  readonly nbytes: number;
}

export function tensorNBytes(type: GGMLType, ne: readonly number[]): number {
  const info = GGML_TYPE_INFO[type];
  let rows = 1;
  for (let i = 1; i < ne.length; i++) rows *= ne[i];
  if (ne[0] % info.blockSize !== 0) throw new RangeError(`row length ${ne[0]} not a multiple of ${info.name} block ${info.blockSize}`);
  return (ne[0] / info.blockSize) * info.typeSize * rows;
}

const pad = (n: number, a: number): number => Math.ceil(n / a) * a;
const SCALAR_SIZE: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4, [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8,
};

/** Sanity limits (as ggml's gguf.cpp enforces) so a corrupt header fails with a message, not an OOM. */
const MAX_STRING_BYTES = 1 << 30;
const MAX_ARRAY_ITEMS = 1 << 30;

/** A parsed GGUF file: typed KVs in file order, tensor infos with absolute offsets. Data is read positionally. */
export class GGUFFile {
  readonly kvs = new Map<string, GGUFKV>();
  readonly tensors: GGUFReadTensor[] = [];
  readonly alignment: number;
  readonly dataOffset: number;
  readonly version: number;
  private readonly fd: number;

  private constructor(readonly path: string) {
    this.fd = openSync(path, "r");
    const size = fstatSync(this.fd).size;
    // Read the header lazily in growing windows.
    let buf = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(this.fd, buf, 0, buf.length, 0);
    let pos = 0;
    const need = (n: number): void => {
      if (pos + n > size) throw new InputError("GGUF_TRUNCATED", `header runs past the end of the file (${size} bytes)`, { file: path });
      if (pos + n > buf.length) {
        const nb = Buffer.alloc(Math.min(size, Math.max(buf.length * 2, pos + n + (1 << 20))));
        readSync(this.fd, nb, 0, nb.length, 0);
        buf = nb;
      }
    };
    const u32 = (): number => { need(4); const v = buf.readUInt32LE(pos); pos += 4; return v; };
    const u64 = (): number => { need(8); const v = Number(buf.readBigUInt64LE(pos)); pos += 8; return v; };
    const str = (): string => {
      const n = u64();
      if (n > MAX_STRING_BYTES) throw new InputError("GGUF_BAD_STRING", `string of ${n} bytes exceeds ${MAX_STRING_BYTES}`, { file: path });
      need(n); const s = buf.toString("utf8", pos, pos + n); pos += n; return s;
    };
    const scalar = (t: GGUFValueType): GGUFScalar => {
      switch (t) {
        case GGUFValueType.UINT8: need(1); return buf.readUInt8(pos++);
        case GGUFValueType.INT8: need(1); return buf.readInt8(pos++);
        case GGUFValueType.UINT16: { need(2); const v = buf.readUInt16LE(pos); pos += 2; return v; }
        case GGUFValueType.INT16: { need(2); const v = buf.readInt16LE(pos); pos += 2; return v; }
        case GGUFValueType.UINT32: return u32();
        case GGUFValueType.INT32: { need(4); const v = buf.readInt32LE(pos); pos += 4; return v; }
        case GGUFValueType.FLOAT32: { need(4); const v = buf.readFloatLE(pos); pos += 4; return v; }
        case GGUFValueType.BOOL: need(1); return buf.readUInt8(pos++) !== 0;
        case GGUFValueType.STRING: return str();
        case GGUFValueType.UINT64: { need(8); const v = buf.readBigUInt64LE(pos); pos += 8; return v; }
        case GGUFValueType.INT64: { need(8); const v = buf.readBigInt64LE(pos); pos += 8; return v; }
        case GGUFValueType.FLOAT64: { need(8); const v = buf.readDoubleLE(pos); pos += 8; return v; }
        default: throw new InputError("GGUF_BAD_TYPE", `unsupported metadata value type ${t}`, { file: path });
      }
    };
    need(4);
    if (buf.toString("latin1", 0, 4) !== "GGUF") throw new InputError("GGUF_BAD_MAGIC", "not a GGUF file (bad magic)", { file: path });
    pos = 4;
    this.version = u32();
    if (this.version !== 2 && this.version !== 3) throw new InputError("GGUF_BAD_VERSION", `unsupported GGUF version ${this.version}`, { file: path });
    const nTensors = u64();
    const nKv = u64();
    for (let i = 0; i < nKv; i++) {
      const key = str();
      const t = u32() as GGUFValueType;
      if (this.kvs.has(key)) throw new InputError("GGUF_DUP_KEY", `duplicate key ${key}`, { file: path });
      if (t === GGUFValueType.ARRAY) {
        const it = u32() as GGUFValueType;
        const n = u64();
        if (it === GGUFValueType.ARRAY || n > MAX_ARRAY_ITEMS) throw new InputError("GGUF_BAD_ARRAY", `bad array for ${key}`, { file: path });
        const arr: GGUFScalar[] = new Array(n);
        for (let j = 0; j < n; j++) arr[j] = scalar(it);
        this.kvs.set(key, { type: GGUFValueType.ARRAY, itemType: it as Exclude<GGUFValueType, GGUFValueType.ARRAY>, value: arr });
      } else {
        this.kvs.set(key, { type: t as Exclude<GGUFValueType, GGUFValueType.ARRAY>, value: scalar(t) });
      }
    }
    const infos: { name: string; ne: number[]; type: GGMLType; off: number }[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = str();
      const nd = u32();
      if (nd < 1 || nd > 4) throw new InputError("GGUF_BAD_DIMS", `tensor ${name} has ${nd} dims`, { file: path });
      const ne: number[] = [];
      for (let d = 0; d < nd; d++) ne.push(u64());
      const type = u32();
      if (!isGGMLType(type)) throw new InputError("GGUF_BAD_TENSOR_TYPE", `tensor ${name} has unknown type ${type}`, { file: path });
      infos.push({ name, ne, type, off: u64() });
    }
    const al = this.kvs.get("general.alignment");
    this.alignment = al && al.type === GGUFValueType.UINT32 ? Number(al.value) : 32;
    this.dataOffset = pad(pos, this.alignment);
    for (const t of infos) {
      const nbytes = tensorNBytes(t.type, t.ne);
      const fileOffset = this.dataOffset + t.off;
      if (fileOffset + nbytes > size) throw new InputError("GGUF_TRUNCATED", `tensor ${t.name} runs past the end of the file`, { file: path });
      this.tensors.push({ name: t.name, ne: t.ne, type: t.type, fileOffset, nbytes });
    }
  }

  static open(path: string): GGUFFile {
    return new GGUFFile(path);
  }

  tensor(name: string): GGUFReadTensor | undefined {
    return this.tensors.find((t) => t.name === name);
  }

  /** Reads `length` bytes at `offset` within the tensor into a fresh buffer. */
  read(t: GGUFReadTensor, offset = 0, length = t.nbytes): Buffer {
    const b = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, b, done, length - done, t.fileOffset + offset + done);
      if (n <= 0) throw new InputError("GGUF_TRUNCATED", `short read in ${t.name}`, { file: this.path });
      done += n;
    }
    return b;
  }

  kvNumber(key: string): number | undefined {
    const v = this.kvs.get(key);
    return v && v.type !== GGUFValueType.ARRAY && typeof v.value !== "string" && typeof v.value !== "boolean" ? Number(v.value) : undefined;
  }

  kvString(key: string): string | undefined {
    const v = this.kvs.get(key);
    return v && v.type === GGUFValueType.STRING ? String(v.value) : undefined;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function encodeString(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  const h = Buffer.alloc(8);
  h.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([h, b]);
}

function encodeScalar(t: GGUFValueType, v: GGUFScalar): Buffer {
  if (t === GGUFValueType.STRING) return encodeString(String(v));
  const size = SCALAR_SIZE[t];
  if (size === undefined) throw new TypeError(`cannot encode GGUF value type ${t}`);
  const b = Buffer.alloc(size);
  switch (t) {
    case GGUFValueType.UINT8: b.writeUInt8(Number(v)); break;
    case GGUFValueType.INT8: b.writeInt8(Number(v)); break;
    case GGUFValueType.UINT16: b.writeUInt16LE(Number(v)); break;
    case GGUFValueType.INT16: b.writeInt16LE(Number(v)); break;
    case GGUFValueType.UINT32: b.writeUInt32LE(Number(v)); break;
    case GGUFValueType.INT32: b.writeInt32LE(Number(v)); break;
    case GGUFValueType.FLOAT32: b.writeFloatLE(Number(v)); break;
    case GGUFValueType.BOOL: b.writeUInt8(v ? 1 : 0); break;
    case GGUFValueType.UINT64: b.writeBigUInt64LE(BigInt(v)); break;
    case GGUFValueType.INT64: b.writeBigInt64LE(BigInt(v)); break;
    case GGUFValueType.FLOAT64: b.writeDoubleLE(Number(v)); break;
  }
  return b;
}

/** Serializes the header: magic, version 3, counts, KVs, tensor infos, zero pad to alignment. */
export function encodeGGUFHeader(kvs: ReadonlyMap<string, GGUFKV>, tensors: readonly GGUFTensorInfo[], opts: { alignment?: number; trimDims?: boolean } = {}): Buffer {
  const alignment = opts.alignment ?? 32;
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.write("GGUF", 0, "latin1");
  h.writeUInt32LE(3, 4);
  h.writeBigUInt64LE(BigInt(tensors.length), 8);
  h.writeBigUInt64LE(BigInt(kvs.size), 16);
  parts.push(h);
  const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  for (const [key, kv] of kvs) {
    if (!key) throw new TypeError("empty GGUF key");
    parts.push(encodeString(key), u32(kv.type));
    if (kv.type === GGUFValueType.ARRAY) {
      const n = Buffer.alloc(8);
      n.writeBigUInt64LE(BigInt(kv.value.length));
      parts.push(u32(kv.itemType), n);
      for (const v of kv.value) parts.push(encodeScalar(kv.itemType, v));
    } else {
      parts.push(encodeScalar(kv.type, kv.value));
    }
  }
  let off = 0;
  for (const t of tensors) {
    if (Buffer.byteLength(t.name) >= 64) throw new RangeError(`tensor name ${t.name} is 64 bytes or longer`);
    let nd = t.ne.length;
    // ggml's C writer stores ggml_n_dims(t): trailing 1-sized dims trimmed (min 1); gguf-py stores them all.
    if (opts.trimDims) while (nd > 1 && t.ne[nd - 1] === 1) nd--;
    parts.push(encodeString(t.name), u32(nd));
    for (let d = 0; d < nd; d++) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(t.ne[d]));
      parts.push(b);
    }
    parts.push(u32(t.type));
    const ob = Buffer.alloc(8);
    ob.writeBigUInt64LE(BigInt(off));
    parts.push(ob);
    off += pad(tensorNBytes(t.type, t.ne), alignment);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.alloc(pad(body.length, alignment) - body.length)]);
}

/**
 * Streams a GGUF file whose tensor list is known up front: the header is written first, then each
 * tensor's bytes in info order via `writeTensorData`, then `finish()` fsyncs and renames into place.
 */
export class StreamingGGUFWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private next = 0;
  private written = 0;
  private pos: number;
  readonly alignment: number;

  constructor(
    readonly path: string,
    readonly kvs: ReadonlyMap<string, GGUFKV>,
    readonly tensors: readonly GGUFTensorInfo[],
    opts: { alignment?: number; trimDims?: boolean } = {},
  ) {
    this.alignment = opts.alignment ?? 32;
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, "w");
    const header = encodeGGUFHeader(kvs, tensors, opts);
    writeSync(this.fd, header, 0, header.length, 0);
    this.pos = header.length;
  }

  /** The tensor whose bytes are expected next (index into `tensors`). */
  get nextIndex(): number {
    return this.next;
  }

  /** Appends a piece of the current tensor's data; call `endTensor()` when its bytes are complete. */
  write(chunk: Uint8Array): void {
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done, this.pos + done);
    this.pos += chunk.length;
    this.written += chunk.length;
  }

  endTensor(): void {
    const t = this.tensors[this.next];
    const expect = tensorNBytes(t.type, t.ne);
    if (this.written !== expect) throw new Error(`tensor ${t.name}: wrote ${this.written} bytes, expected ${expect}`);
    const padded = pad(expect, this.alignment) - expect;
    if (padded) this.write(new Uint8Array(padded));
    this.written = 0;
    this.next++;
  }

  finish(): void {
    if (this.next !== this.tensors.length) throw new Error(`GGUF writer: ${this.tensors.length - this.next} tensors missing`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }

  abort(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
    try { unlinkSync(this.tmp); } catch { /* nothing to remove */ }
  }
}
