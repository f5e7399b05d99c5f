import { open, type FileHandle } from "node:fs/promises";
import { GGML_TYPE_INFO, GGMLType, isGGMLType } from "./ggml-types.js";
import { GGUFError, type GGUFErrorCode } from "./format-errors.js";
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAX_ARRAY_DEPTH,
  GGUF_MAX_ARRAY_ELEMENTS,
  GGUF_MAX_STRING_LENGTH,
  GGUF_SCALAR_SIZE,
  GGUFValueType,
  ggufMinValueSize,
  ggufPad,
  isGGUFValueType,
  type GGUFKV,
  type GGUFTensorInfo,
  type GGUFValue,
} from "./gguf-types.js";

export interface GGUFFile {
  readonly path: string;
  readonly version: number;
  readonly alignment: number;
  /** absolute file offset of the tensor data section */
  readonly dataOffset: number;
  /** in file order */
  readonly metadata: ReadonlyMap<string, GGUFKV>;
  /** in file order */
  readonly tensors: readonly GGUFTensorInfo[];
  /** The value of a metadata key, or undefined. */
  get(key: string): GGUFValue | undefined;
  tensor(name: string): GGUFTensorInfo | undefined;
  /** The tensor's stored bytes (or the [start, end) byte range of them), read positionally. */
  readTensorBytes(name: string, range?: { start: number; end: number }): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Smallest possible tensor info record: name length, n_dims, one dim, type, offset. */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
/** Smallest possible KV record: key length, a 1-byte key, value type, a 1-byte value. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
/** Header bytes are read in chunks of this size (one syscall per chunk, not per field). */
const READ_CHUNK = 1 << 20;

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

/** Buffered forward reader over the header; every read is bounded by the file size. */
class HeaderCursor {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  /** file offset of buf[0] */
  private bufStart = 0;
  /** absolute file offset of the next byte to read */
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly path: string,
  ) {}

  fail(code: GGUFErrorCode, message: string, details: Record<string, unknown> = {}): never {
    throw new GGUFError(code, message, { file: this.path, details: { offset: this.pos, ...details } });
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Makes [pos, pos+n) available in the buffer, or fails with GGUF_TRUNCATED. */
  async need(n: number, what: string): Promise<void> {
    if (this.pos + n <= this.bufStart + this.buf.length) return;
    if (n > this.remaining) {
      this.fail("GGUF_TRUNCATED", `file ends inside ${what}: needs ${n} bytes at offset ${this.pos}, file has ${this.fileSize}`);
    }
    const len = Math.min(Math.max(n, READ_CHUNK), this.remaining);
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh.read(buf, got, len - got, this.pos + got);
      if (bytesRead === 0) this.fail("GGUF_TRUNCATED", `file shrank while reading ${what}`);
      got += bytesRead;
    }
    this.buf = buf;
    this.view = new DataView(buf.buffer);
    this.bufStart = this.pos;
  }

  private at(n: number): number {
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }

  async u8(what: string): Promise<number> {
    await this.need(1, what);
    return this.view.getUint8(this.at(1));
  }
  async u32(what: string): Promise<number> {
    await this.need(4, what);
    return this.view.getUint32(this.at(4), true);
  }
  async i32(what: string): Promise<number> {
    await this.need(4, what);
    return this.view.getInt32(this.at(4), true);
  }
  async u64(what: string): Promise<bigint> {
    await this.need(8, what);
    return this.view.getBigUint64(this.at(8), true);
  }
  async i64(what: string): Promise<bigint> {
    await this.need(8, what);
    return this.view.getBigInt64(this.at(8), true);
  }
  async bytes(n: number, what: string): Promise<Uint8Array> {
    await this.need(n, what);
    const o = this.at(n);
    return this.buf.subarray(o, o + n);
  }

  /** A GGUF string: u64 length (bounded by the file and GGUF_MAX_STRING_LENGTH) + UTF-8 bytes. */
  async string(what: string): Promise<string> {
    const len = await this.u64(`${what} length`);
    if (len > BigInt(GGUF_MAX_STRING_LENGTH)) {
      this.fail("GGUF_STRING_TOO_LONG", `${what} claims ${len} bytes; the limit is ${GGUF_MAX_STRING_LENGTH}`, { length: len });
    }
    const n = Number(len);
    if (n > this.remaining) this.fail("GGUF_TRUNCATED", `${what} claims ${n} bytes but only ${this.remaining} remain in the file`);
    return utf8.decode(await this.bytes(n, what));
  }

  /**
   * A string read without awaiting when its bytes are already buffered (the common case inside a
   * large string array); undefined when the caller must take the checked async path.
   */
  tryStringSync(): string | undefined {
    const o = this.pos - this.bufStart;
    if (o + 8 > this.buf.length) return undefined;
    const len = this.view.getBigUint64(o, true);
    if (len > BigInt(this.buf.length - o - 8)) return undefined;
    const n = Number(len);
    this.pos += 8 + n;
    return utf8.decode(this.buf.subarray(o + 8, o + 8 + n));
  }

  /** One scalar of a fixed-width type (fast path used by arrays and KVs alike). */
  scalarSync(type: GGUFValueType): GGUFValue {
    const v = this.view;
    switch (type) {
      case GGUFValueType.UINT8:
        return v.getUint8(this.at(1));
      case GGUFValueType.INT8:
        return v.getInt8(this.at(1));
      case GGUFValueType.UINT16:
        return v.getUint16(this.at(2), true);
      case GGUFValueType.INT16:
        return v.getInt16(this.at(2), true);
      case GGUFValueType.UINT32:
        return v.getUint32(this.at(4), true);
      case GGUFValueType.INT32:
        return v.getInt32(this.at(4), true);
      case GGUFValueType.FLOAT32:
        return v.getFloat32(this.at(4), true);
      case GGUFValueType.BOOL:
        return v.getUint8(this.at(1)) !== 0;
      case GGUFValueType.UINT64:
        return v.getBigUint64(this.at(8), true);
      case GGUFValueType.INT64:
        return v.getBigInt64(this.at(8), true);
      case GGUFValueType.FLOAT64:
        return v.getFloat64(this.at(8), true);
      default:
        throw new Error(`not a fixed-width GGUF type: ${type}`);
    }
  }
}

async function readValueType(cur: HeaderCursor, what: string): Promise<GGUFValueType> {
  const t = await cur.i32(`${what} type`);
  if (!isGGUFValueType(t)) cur.fail("GGUF_UNKNOWN_VALUE_TYPE", `${what} has unknown value type ${t}`, { type: t });
  return t;
}

/** Reads one value of `type` (recursing into arrays up to GGUF_MAX_ARRAY_DEPTH). */
async function readValue(cur: HeaderCursor, type: GGUFValueType, what: string, depth: number): Promise<GGUFKV> {
  if (type === GGUFValueType.STRING) return { type, value: await cur.string(what) };
  if (type !== GGUFValueType.ARRAY) {
    await cur.need(GGUF_SCALAR_SIZE[type]!, what);
    return { type, value: cur.scalarSync(type) };
  }
  if (depth >= GGUF_MAX_ARRAY_DEPTH) cur.fail("GGUF_NESTING_TOO_DEEP", `${what} nests arrays deeper than ${GGUF_MAX_ARRAY_DEPTH}`);
  const arrayType = await readValueType(cur, `${what} element`);
  const count = await cur.u64(`${what} element count`);
  const minSize = ggufMinValueSize(arrayType);
  if (count > BigInt(GGUF_MAX_ARRAY_ELEMENTS) || Number(count) * minSize > cur.remaining) {
    cur.fail("GGUF_ABSURD_COUNT", `${what} claims ${count} elements of ${GGUFValueType[arrayType]}; ${cur.remaining} bytes remain in the file`, {
      count,
    });
  }
  const n = Number(count);
  const values: GGUFValue[] = new Array(n);
  if (arrayType === GGUFValueType.STRING) {
    for (let i = 0; i < n; i++) values[i] = cur.tryStringSync() ?? (await cur.string(`${what}[${i}]`));
    return { type, arrayType, value: values };
  }
  if (arrayType === GGUFValueType.ARRAY) {
    const items: GGUFKV[] = new Array(n);
    for (let i = 0; i < n; i++) {
      items[i] = await readValue(cur, GGUFValueType.ARRAY, `${what}[${i}]`, depth + 1);
      values[i] = items[i]!.value;
    }
    return { type, arrayType, value: values, items };
  }
  await cur.need(n * minSize, what);
  for (let i = 0; i < n; i++) values[i] = cur.scalarSync(arrayType);
  return { type, arrayType, value: values };
}

function checkedCount(cur: HeaderCursor, raw: bigint, what: string, minBytes: number): number {
  if (raw < 0n || raw * BigInt(minBytes) > BigInt(cur.remaining)) {
    cur.fail("GGUF_ABSURD_COUNT", `${what} is ${raw}, but ${cur.remaining} bytes remain (each needs at least ${minBytes})`, { count: raw });
  }
  return Number(raw);
}

async function readTensorInfo(cur: HeaderCursor, index: number): Promise<GGUFTensorInfo> {
  const name = await cur.string(`tensor ${index} name`);
  if (name.length === 0 || utf8Encoder.encode(name).length >= GGML_MAX_NAME) {
    cur.fail("GGUF_BAD_TENSOR_NAME", `tensor ${index} name "${name.slice(0, 80)}" must be 1..${GGML_MAX_NAME - 1} bytes`);
  }
  const nDims = await cur.u32(`tensor ${name} n_dims`);
  // gguf.cpp accepts n_dims = 0 (a scalar: every ne is 1); so do we, as shape [].
  if (nDims > GGML_MAX_DIMS) cur.fail("GGUF_BAD_DIMS", `tensor ${name} has ${nDims} dimensions; expected 0..${GGML_MAX_DIMS}`);
  const shape: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const ne = await cur.i64(`tensor ${name} ne[${d}]`);
    if (ne < 0n || ne > BigInt(Number.MAX_SAFE_INTEGER)) cur.fail("GGUF_BAD_SHAPE", `tensor ${name} has ne[${d}] = ${ne}`);
    shape.push(Number(ne));
    elements *= Number(ne);
  }
  const type = await cur.i32(`tensor ${name} type`);
  if (!isGGMLType(type)) cur.fail("GGUF_UNKNOWN_TYPE", `tensor ${name} has unknown ggml type ${type}`, { type });
  const info = GGML_TYPE_INFO[type];
  if ((shape[0] ?? 1) % info.blockSize !== 0) {
    cur.fail("GGUF_BAD_SHAPE", `tensor ${name}: row length ${shape[0]} is not a multiple of ${info.name}'s block size ${info.blockSize}`);
  }
  if (!Number.isSafeInteger(elements)) cur.fail("GGUF_BAD_SHAPE", `tensor ${name} has ${elements} elements`);
  const byteLength = (elements / info.blockSize) * info.typeSize;
  if (byteLength > cur.fileSize) {
    cur.fail("GGUF_OFFSET_OUT_OF_FILE", `tensor ${name} needs ${byteLength} bytes; the whole file has ${cur.fileSize}`);
  }
  const offset = await cur.u64(`tensor ${name} offset`);
  if (offset > BigInt(cur.fileSize)) cur.fail("GGUF_OFFSET_OUT_OF_FILE", `tensor ${name} offset ${offset} is past the end of the file`);
  return { name, shape, type: type as GGMLType, offset: Number(offset), byteLength };
}

/**
 * Opens a GGUF (v2 or v3) and parses its header. Counts, lengths and offsets are validated against
 * the file size before anything is allocated for them; tensor data is read lazily and positionally.
 * Checks follow gguf.cpp (magic, version, key and name rules, general.alignment, block sizes) except
 * that tensor offsets only need to be aligned and inside the file, not packed in info order.
 */
export async function openGguf(path: string): Promise<GGUFFile> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const cur = new HeaderCursor(fh, size, path);
    if (size < 4) cur.fail("GGUF_TRUNCATED", `file is ${size} bytes, too short for the GGUF magic`);
    const magic = await cur.bytes(4, "magic");
    if (magic[0] !== 0x47 || magic[1] !== 0x47 || magic[2] !== 0x55 || magic[3] !== 0x46) {
      cur.fail("GGUF_BAD_MAGIC", `not a GGUF file (magic ${Array.from(magic, (b) => b.toString(16).padStart(2, "0")).join(" ")}, expected 47 47 55 46)`);
    }
    const version = await cur.u32("version");
    if ((version & 0xffff) === 0 && version !== 0) {
      cur.fail("GGUF_BAD_VERSION", `version field ${version} looks byte-swapped: big-endian GGUF is not supported`, { version });
    }
    if (version !== 2 && version !== 3) {
      cur.fail("GGUF_BAD_VERSION", `GGUF version ${version} is not supported; expected 2 or 3`, { version });
    }
    const nTensors = checkedCount(cur, await cur.i64("tensor count"), "tensor count", MIN_TENSOR_INFO_BYTES);
    const nKv = checkedCount(cur, await cur.i64("metadata count"), "metadata count", MIN_KV_BYTES);

    const metadata = new Map<string, GGUFKV>();
    for (let i = 0; i < nKv; i++) {
      const key = await cur.string(`metadata key ${i}`);
      if (key.length === 0) cur.fail("GGUF_BAD_KEY", `metadata key ${i} is empty`);
      if (metadata.has(key)) cur.fail("GGUF_DUPLICATE_KEY", `metadata key "${key}" appears twice`);
      const type = await readValueType(cur, `metadata "${key}"`);
      metadata.set(key, await readValue(cur, type, `metadata "${key}"`, 0));
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    const alignKV = metadata.get("general.alignment");
    if (alignKV) {
      const a = alignKV.value;
      if (alignKV.type !== GGUFValueType.UINT32 || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
        cur.fail("GGUF_BAD_ALIGNMENT", `general.alignment must be a UINT32 power of two, got ${GGUFValueType[alignKV.type]} ${String(a)}`);
      }
      alignment = a as number;
    }

    const tensors: GGUFTensorInfo[] = [];
    const byName = new Map<string, GGUFTensorInfo>();
    for (let i = 0; i < nTensors; i++) {
      const t = await readTensorInfo(cur, i);
      if (byName.has(t.name)) cur.fail("GGUF_DUPLICATE_TENSOR", `tensor "${t.name}" appears twice`);
      byName.set(t.name, t);
      tensors.push(t);
    }
    const dataOffset = nTensors > 0 ? ggufPad(cur.pos, alignment) : cur.pos;
    for (const t of tensors) {
      if (t.offset % alignment !== 0) {
        cur.fail("GGUF_MISALIGNED", `tensor ${t.name} offset ${t.offset} is not a multiple of the alignment ${alignment}`);
      }
      if (dataOffset + t.offset + t.byteLength > size) {
        cur.fail("GGUF_OFFSET_OUT_OF_FILE", `tensor ${t.name} data [${t.offset}, +${t.byteLength}) runs past the end of the file (${size} bytes)`, {
          tensor: t.name,
        });
      }
    }
    return new GGUFFileImpl(path, fh, version, alignment, dataOffset, metadata, tensors, byName);
  } catch (err) {
    await fh.close();
    throw err;
  }
}

class GGUFFileImpl implements GGUFFile {
  private closed = false;
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly version: number,
    readonly alignment: number,
    readonly dataOffset: number,
    readonly metadata: ReadonlyMap<string, GGUFKV>,
    readonly tensors: readonly GGUFTensorInfo[],
    private readonly byName: ReadonlyMap<string, GGUFTensorInfo>,
  ) {}

  get(key: string): GGUFValue | undefined {
    return this.metadata.get(key)?.value;
  }

  tensor(name: string): GGUFTensorInfo | undefined {
    return this.byName.get(name);
  }

  async readTensorBytes(name: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    const t = this.byName.get(name);
    if (!t) throw new GGUFError("GGUF_NO_TENSOR", `no tensor named "${name}"`, { file: this.path });
    const start = range?.start ?? 0;
    const end = range?.end ?? t.byteLength;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= t.byteLength)) {
      throw new RangeError(`${this.path}: byte range [${start}, ${end}) is outside tensor ${name} (${t.byteLength} bytes)`);
    }
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const out = new Uint8Array(end - start);
    const base = this.dataOffset + t.offset + start;
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await this.fh.read(out, got, out.length - got, base + got);
      if (bytesRead === 0) throw new GGUFError("GGUF_TRUNCATED", `file ends inside tensor ${name}`, { file: this.path });
      got += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
