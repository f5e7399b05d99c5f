import { AtomicFileWriter } from "./atomic-file.js";
import { GGML_TYPE_INFO, type GGMLType, isGGMLType } from "./ggml-types.js";
import { GGUFError } from "./format-errors.js";
import { ByteSink, writeGgufKV } from "./gguf-encode.js";
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GGUFValueType,
  ggufPad,
  type GGUFKV,
  type GGUFTensorInfo,
  type GGUFValue,
} from "./gguf-types.js";

const utf8 = new TextEncoder();

type WriterState = "planning" | "data" | "done";

/**
 * Streams a GGUF v3 file: set KVs and declare tensors, `writeHeader()`, then each tensor's bytes in
 * declaration order (in as many chunks as convenient), then `finish()`. Offsets are planned up front
 * (each tensor aligned, zero padding after every tensor, the last included, as gguf.cpp writes).
 * The file appears at `path` only on `finish()` (temp name, fsync, rename).
 *
 * Setting an existing key removes it and appends it again, as gguf_set_val_* does, so KV order can
 * match llama-quantize's output exactly.
 */
export class GGUFWriter {
  readonly path: string;
  readonly alignment: number;
  private readonly kvs = new Map<string, GGUFKV>();
  private readonly infos: GGUFTensorInfo[] = [];
  private readonly names = new Set<string>();
  private nextOffset = 0;
  private state: WriterState = "planning";
  private file: AtomicFileWriter | undefined;
  private headerBytes = 0;
  /** index of the tensor being written and how many of its bytes have arrived */
  private current = 0;
  private currentWritten = 0;

  constructor(path: string, opts: { alignment?: number } = {}) {
    const a = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0 || a > 0xffffffff) {
      throw new GGUFError("GGUF_BAD_ALIGNMENT", `alignment must be a power of two, got ${a}`, { file: path });
    }
    this.path = path;
    this.alignment = a;
    if (a !== GGUF_DEFAULT_ALIGNMENT) this.kvs.set("general.alignment", { type: GGUFValueType.UINT32, value: a });
  }

  private expect(state: WriterState, action: string): void {
    if (this.state !== state) {
      throw new GGUFError("GGUF_WRITE_ORDER", `cannot ${action} now: writer is in state "${this.state}", expected "${state}"`, { file: this.path });
    }
  }

  /** Sets a KV (remove + append, like gguf_set_val_*). Its value is validated when the header is written. */
  setKV(key: string, kv: GGUFKV): void {
    this.expect("planning", `set "${key}"`);
    if (key.length === 0) throw new GGUFError("GGUF_BAD_KEY", "metadata key must not be empty", { file: this.path });
    if (key === "general.alignment" && (kv.type !== GGUFValueType.UINT32 || kv.value !== this.alignment)) {
      throw new GGUFError(
        "GGUF_BAD_ALIGNMENT",
        `general.alignment must be UINT32 ${this.alignment}, the writer's alignment; pass { alignment } to the constructor`,
        {
          file: this.path,
        },
      );
    }
    this.kvs.delete(key);
    this.kvs.set(key, kv);
  }
  hasKV(key: string): boolean {
    return this.kvs.has(key);
  }
  removeKV(key: string): boolean {
    this.expect("planning", `remove "${key}"`);
    return this.kvs.delete(key);
  }
  /** The KVs in the order they will be written. */
  get metadata(): ReadonlyMap<string, GGUFKV> {
    return this.kvs;
  }

  // prettier-ignore
  setString(key: string, v: string): void { this.setKV(key, { type: GGUFValueType.STRING, value: v }); }
  // prettier-ignore
  setBool(key: string, v: boolean): void { this.setKV(key, { type: GGUFValueType.BOOL, value: v }); }
  // prettier-ignore
  setUint8(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.UINT8, value: v }); }
  // prettier-ignore
  setInt8(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.INT8, value: v }); }
  // prettier-ignore
  setUint16(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.UINT16, value: v }); }
  // prettier-ignore
  setInt16(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.INT16, value: v }); }
  // prettier-ignore
  setUint32(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.UINT32, value: v }); }
  // prettier-ignore
  setInt32(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.INT32, value: v }); }
  // prettier-ignore
  setFloat32(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.FLOAT32, value: v }); }
  // prettier-ignore
  setFloat64(key: string, v: number): void { this.setKV(key, { type: GGUFValueType.FLOAT64, value: v }); }
  // prettier-ignore
  setUint64(key: string, v: bigint | number): void { this.setKV(key, { type: GGUFValueType.UINT64, value: v }); }
  // prettier-ignore
  setInt64(key: string, v: bigint | number): void { this.setKV(key, { type: GGUFValueType.INT64, value: v }); }
  /** A flat array of `elemType` (use setKV with `items` for nested arrays). */
  setArray(key: string, elemType: GGUFValueType, values: GGUFValue[]): void {
    this.setKV(key, { type: GGUFValueType.ARRAY, arrayType: elemType, value: values });
  }

  /** Declares a tensor; `shape` is in ggml order (shape[0] = row length). Returns its planned info. */
  addTensor(name: string, shape: number[], type: GGMLType): GGUFTensorInfo {
    this.expect("planning", `add tensor "${name}"`);
    const nameBytes = utf8.encode(name).length;
    if (nameBytes === 0 || nameBytes >= GGML_MAX_NAME) {
      throw new GGUFError("GGUF_BAD_TENSOR_NAME", `tensor name "${name}" must be 1..${GGML_MAX_NAME - 1} bytes`, { file: this.path });
    }
    if (this.names.has(name)) throw new GGUFError("GGUF_DUPLICATE_TENSOR", `tensor "${name}" added twice`, { file: this.path });
    if (!isGGMLType(type)) throw new GGUFError("GGUF_UNKNOWN_TYPE", `tensor ${name}: unknown ggml type ${type}`, { file: this.path });
    if (shape.length > GGML_MAX_DIMS) {
      throw new GGUFError("GGUF_BAD_DIMS", `tensor ${name} has ${shape.length} dimensions; expected 0..${GGML_MAX_DIMS}`, { file: this.path });
    }
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new GGUFError("GGUF_BAD_SHAPE", `tensor ${name} has shape [${shape.join(", ")}]`, { file: this.path });
    }
    const info = GGML_TYPE_INFO[type];
    if ((shape[0] ?? 1) % info.blockSize !== 0) {
      throw new GGUFError("GGUF_BAD_SHAPE", `tensor ${name}: row length ${shape[0]} is not a multiple of ${info.name}'s block size ${info.blockSize}`, {
        file: this.path,
      });
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    const t: GGUFTensorInfo = { name, shape: [...shape], type, offset: this.nextOffset, byteLength: (elements / info.blockSize) * info.typeSize };
    this.nextOffset += ggufPad(t.byteLength, this.alignment);
    this.names.add(name);
    this.infos.push(t);
    return t;
  }

  /** Planned tensor infos, in write order. */
  get tensors(): readonly GGUFTensorInfo[] {
    return this.infos;
  }

  /** The serialised header including the padding up to the data section. */
  buildHeader(): Uint8Array {
    const out = new ByteSink();
    out.bytes(GGUF_MAGIC);
    out.u32(GGUF_VERSION);
    out.i64(BigInt(this.infos.length));
    out.i64(BigInt(this.kvs.size));
    for (const [key, kv] of this.kvs) writeGgufKV(out, key, kv);
    for (const t of this.infos) {
      out.string(t.name);
      out.u32(t.shape.length);
      for (const d of t.shape) out.i64(BigInt(d));
      out.i32(t.type);
      out.u64(BigInt(t.offset));
    }
    if (this.infos.length > 0) out.zeros(ggufPad(out.length, this.alignment) - out.length);
    return out.result();
  }

  /** Absolute offset of the data section (valid after writeHeader). */
  get dataOffset(): number {
    return this.headerBytes;
  }

  async writeHeader(): Promise<void> {
    this.expect("planning", "write the header");
    const header = this.buildHeader(); // validates every value before a file exists
    this.file = await AtomicFileWriter.open(this.path);
    this.state = "data";
    try {
      await this.file.write(header);
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.headerBytes = header.length;
    this.skipEmptyTensors();
  }

  private skipEmptyTensors(): void {
    while (this.current < this.infos.length && this.infos[this.current]!.byteLength === 0) this.current++;
  }

  /** Appends bytes of tensor `name`, which must be the next one in declaration order. */
  async writeTensorData(name: string, bytes: Uint8Array): Promise<void> {
    this.expect("data", `write data of "${name}"`);
    // Empty tensors need no data and are skipped automatically; a zero-length write for one is a no-op.
    if (bytes.byteLength === 0 && this.names.has(name)) return;
    const t = this.infos[this.current];
    if (!t || t.name !== name) {
      throw new GGUFError("GGUF_WRITE_ORDER", `got data for "${name}" but the next tensor is ${t ? `"${t.name}"` : "none (all written)"}`, {
        file: this.path,
      });
    }
    if (this.currentWritten + bytes.byteLength > t.byteLength) {
      throw new GGUFError("GGUF_WRITE_ORDER", `tensor ${name} takes ${t.byteLength} bytes; got ${this.currentWritten + bytes.byteLength}`, {
        file: this.path,
      });
    }
    await this.file!.write(bytes);
    this.currentWritten += bytes.byteLength;
    if (this.currentWritten === t.byteLength) {
      const pad = ggufPad(t.byteLength, this.alignment) - t.byteLength;
      if (pad > 0) await this.file!.write(new Uint8Array(pad));
      this.current++;
      this.currentWritten = 0;
      this.skipEmptyTensors();
    }
  }

  /** Checks every tensor was written in full, then fsyncs and renames into place. */
  async finish(): Promise<void> {
    if (this.state === "planning") await this.writeHeader();
    this.expect("data", "finish");
    if (this.current < this.infos.length) {
      const t = this.infos[this.current]!;
      await this.abort();
      throw new GGUFError("GGUF_WRITE_ORDER", `finish() before tensor "${t.name}" was written (${this.currentWritten}/${t.byteLength} bytes)`, {
        file: this.path,
      });
    }
    this.state = "done";
    await this.file!.commit();
  }

  /** Discards the temporary file; nothing appears at `path`. */
  async abort(): Promise<void> {
    this.state = "done";
    await this.file?.abort();
  }
}
