// koffi bindings to llama.cpp's own gguf API and fp16/bf16 row converters (libggml-base.so), so the
// formats tests can check our readers, writers and codecs against the reference implementation.
// Test-only: no package imports this.
import koffi from "koffi";
import { ggmlBaseLib } from "./ggml-lib.js";

/** gguf_type ids (gguf.h), duplicated here on purpose: the tests compare ours against these. */
export const GGUF_C_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type CScalar = number | bigint | boolean | string;
export interface CKV {
  key: string;
  type: number;
  /** scalar, or array of scalars for ARRAY (llama.cpp does not support nested arrays). */
  value: CScalar | CScalar[];
  arrayType?: number;
}
export interface CTensor {
  name: string;
  type: number;
  /** ne[0..3], trailing dims are 1 */
  ne: number[];
  offset: number;
  size: number;
}
export interface CGgufContent {
  version: number;
  alignment: number;
  dataOffset: number;
  kvs: CKV[];
  tensors: CTensor[];
}

interface Bindings {
  fp32ToFp16Row(x: Float32Array, y: Uint16Array, n: number): void;
  fp16ToFp32Row(x: Uint16Array, y: Float32Array, n: number): void;
  fp32ToBf16Row(x: Float32Array, y: Uint16Array, n: number): void;
  bf16ToFp32Row(x: Uint16Array, y: Float32Array, n: number): void;
  [name: string]: any;
}

let bindings: Bindings | undefined;

function load(): Bindings {
  if (bindings) return bindings;
  const lib = ggmlBaseLib();
  koffi.opaque("gguf_context");
  koffi.opaque("ggml_context");
  koffi.opaque("ggml_tensor");
  const initParams = koffi.struct("gguf_init_params_t", { no_alloc: "bool", ctx: "void *" });
  const ggmlInitParams = koffi.struct("ggml_init_params_t", { mem_size: "size_t", mem_buffer: "void *", no_alloc: "bool" });
  const f = (sig: string) => lib.func(sig);
  bindings = {
    fp32ToFp16Row: f("void ggml_fp32_to_fp16_row(const float *x, _Out_ uint16_t *y, int64_t n)"),
    fp16ToFp32Row: f("void ggml_fp16_to_fp32_row(const uint16_t *x, _Out_ float *y, int64_t n)"),
    fp32ToBf16Row: f("void ggml_fp32_to_bf16_row(const float *x, _Out_ uint16_t *y, int64_t n)"),
    bf16ToFp32Row: f("void ggml_bf16_to_fp32_row(const uint16_t *x, _Out_ float *y, int64_t n)"),
    initFromFile: lib.func("gguf_init_from_file", "gguf_context *", ["const char *", initParams]),
    free: f("void gguf_free(gguf_context *ctx)"),
    getVersion: f("uint32_t gguf_get_version(gguf_context *ctx)"),
    getAlignment: f("size_t gguf_get_alignment(gguf_context *ctx)"),
    getDataOffset: f("size_t gguf_get_data_offset(gguf_context *ctx)"),
    getNKv: f("int64_t gguf_get_n_kv(gguf_context *ctx)"),
    getKey: f("const char *gguf_get_key(gguf_context *ctx, int64_t id)"),
    getKvType: f("int gguf_get_kv_type(gguf_context *ctx, int64_t id)"),
    getArrType: f("int gguf_get_arr_type(gguf_context *ctx, int64_t id)"),
    getArrN: f("size_t gguf_get_arr_n(gguf_context *ctx, int64_t id)"),
    getArrData: f("const void *gguf_get_arr_data(gguf_context *ctx, int64_t id)"),
    getArrStr: f("const char *gguf_get_arr_str(gguf_context *ctx, int64_t id, size_t i)"),
    getValU8: f("uint8_t gguf_get_val_u8(gguf_context *ctx, int64_t id)"),
    getValI8: f("int8_t gguf_get_val_i8(gguf_context *ctx, int64_t id)"),
    getValU16: f("uint16_t gguf_get_val_u16(gguf_context *ctx, int64_t id)"),
    getValI16: f("int16_t gguf_get_val_i16(gguf_context *ctx, int64_t id)"),
    getValU32: f("uint32_t gguf_get_val_u32(gguf_context *ctx, int64_t id)"),
    getValI32: f("int32_t gguf_get_val_i32(gguf_context *ctx, int64_t id)"),
    getValF32: f("float gguf_get_val_f32(gguf_context *ctx, int64_t id)"),
    getValU64: f("uint64_t gguf_get_val_u64(gguf_context *ctx, int64_t id)"),
    getValI64: f("int64_t gguf_get_val_i64(gguf_context *ctx, int64_t id)"),
    getValF64: f("double gguf_get_val_f64(gguf_context *ctx, int64_t id)"),
    getValBool: f("bool gguf_get_val_bool(gguf_context *ctx, int64_t id)"),
    getValStr: f("const char *gguf_get_val_str(gguf_context *ctx, int64_t id)"),
    getNTensors: f("int64_t gguf_get_n_tensors(gguf_context *ctx)"),
    getTensorName: f("const char *gguf_get_tensor_name(gguf_context *ctx, int64_t id)"),
    getTensorType: f("int gguf_get_tensor_type(gguf_context *ctx, int64_t id)"),
    getTensorOffset: f("size_t gguf_get_tensor_offset(gguf_context *ctx, int64_t id)"),
    getTensorSize: f("size_t gguf_get_tensor_size(gguf_context *ctx, int64_t id)"),
    getTensorNe: f("const int64_t *gguf_get_tensor_ne(gguf_context *ctx, int64_t id)"),
    initEmpty: f("gguf_context *gguf_init_empty()"),
    setValU8: f("void gguf_set_val_u8(gguf_context *ctx, const char *key, uint8_t v)"),
    setValI8: f("void gguf_set_val_i8(gguf_context *ctx, const char *key, int8_t v)"),
    setValU16: f("void gguf_set_val_u16(gguf_context *ctx, const char *key, uint16_t v)"),
    setValI16: f("void gguf_set_val_i16(gguf_context *ctx, const char *key, int16_t v)"),
    setValU32: f("void gguf_set_val_u32(gguf_context *ctx, const char *key, uint32_t v)"),
    setValI32: f("void gguf_set_val_i32(gguf_context *ctx, const char *key, int32_t v)"),
    setValF32: f("void gguf_set_val_f32(gguf_context *ctx, const char *key, float v)"),
    setValU64: f("void gguf_set_val_u64(gguf_context *ctx, const char *key, uint64_t v)"),
    setValI64: f("void gguf_set_val_i64(gguf_context *ctx, const char *key, int64_t v)"),
    setValF64: f("void gguf_set_val_f64(gguf_context *ctx, const char *key, double v)"),
    setValBool: f("void gguf_set_val_bool(gguf_context *ctx, const char *key, bool v)"),
    setValStr: f("void gguf_set_val_str(gguf_context *ctx, const char *key, const char *v)"),
    setArrData: f("void gguf_set_arr_data(gguf_context *ctx, const char *key, int type, const void *data, size_t n)"),
    setArrStr: f("void gguf_set_arr_str(gguf_context *ctx, const char *key, const char **data, size_t n)"),
    addTensor: f("void gguf_add_tensor(gguf_context *ctx, ggml_tensor *t)"),
    setTensorData: f("void gguf_set_tensor_data(gguf_context *ctx, const char *name, const void *data)"),
    writeToFile: f("bool gguf_write_to_file(gguf_context *ctx, const char *fname, bool only_meta)"),
    ggmlInit: lib.func("ggml_init", "ggml_context *", [ggmlInitParams]),
    ggmlFree: f("void ggml_free(ggml_context *ctx)"),
    ggmlNewTensor: f("ggml_tensor *ggml_new_tensor(ggml_context *ctx, int type, int n_dims, const int64_t *ne)"),
    ggmlSetName: f("ggml_tensor *ggml_set_name(ggml_tensor *t, const char *name)"),
    ggmlTensorOverhead: f("size_t ggml_tensor_overhead()"),
    ggmlGetTensor: f("ggml_tensor *ggml_get_tensor(ggml_context *ctx, const char *name)"),
    ggmlGetData: f("void *ggml_get_data(ggml_tensor *t)"),
    ggmlNbytes: f("size_t ggml_nbytes(ggml_tensor *t)"),
  };
  return bindings;
}

export function ggmlFp32ToFp16Row(x: Float32Array): Uint16Array {
  const y = new Uint16Array(x.length);
  load().fp32ToFp16Row(x, y, x.length);
  return y;
}
export function ggmlFp16ToFp32Row(x: Uint16Array): Float32Array {
  const y = new Float32Array(x.length);
  load().fp16ToFp32Row(x, y, x.length);
  return y;
}
export function ggmlFp32ToBf16Row(x: Float32Array): Uint16Array {
  const y = new Uint16Array(x.length);
  load().fp32ToBf16Row(x, y, x.length);
  return y;
}
export function ggmlBf16ToFp32Row(x: Uint16Array): Float32Array {
  const y = new Float32Array(x.length);
  load().bf16ToFp32Row(x, y, x.length);
  return y;
}

const ELEM: Record<number, { size: number; get: (dv: DataView, o: number) => CScalar }> = {
  [GGUF_C_TYPE.UINT8]: { size: 1, get: (d, o) => d.getUint8(o) },
  [GGUF_C_TYPE.INT8]: { size: 1, get: (d, o) => d.getInt8(o) },
  [GGUF_C_TYPE.UINT16]: { size: 2, get: (d, o) => d.getUint16(o, true) },
  [GGUF_C_TYPE.INT16]: { size: 2, get: (d, o) => d.getInt16(o, true) },
  [GGUF_C_TYPE.UINT32]: { size: 4, get: (d, o) => d.getUint32(o, true) },
  [GGUF_C_TYPE.INT32]: { size: 4, get: (d, o) => d.getInt32(o, true) },
  [GGUF_C_TYPE.FLOAT32]: { size: 4, get: (d, o) => d.getFloat32(o, true) },
  [GGUF_C_TYPE.BOOL]: { size: 1, get: (d, o) => d.getUint8(o) !== 0 },
  [GGUF_C_TYPE.UINT64]: { size: 8, get: (d, o) => d.getBigUint64(o, true) },
  [GGUF_C_TYPE.INT64]: { size: 8, get: (d, o) => d.getBigInt64(o, true) },
  [GGUF_C_TYPE.FLOAT64]: { size: 8, get: (d, o) => d.getFloat64(o, true) },
};

/** Reads a GGUF with llama.cpp's gguf_init_from_file; returns null when llama.cpp rejects it. */
export function readGgufWithLlama(path: string): CGgufContent | null {
  const b = load();
  const ctx = b.initFromFile(path, { no_alloc: true, ctx: null });
  if (!ctx) return null;
  try {
    const kvs: CKV[] = [];
    const nKv = Number(b.getNKv(ctx));
    for (let i = 0; i < nKv; i++) {
      const key: string = b.getKey(ctx, i);
      const type: number = b.getKvType(ctx, i);
      let value: CScalar | CScalar[];
      let arrayType: number | undefined;
      switch (type) {
        case GGUF_C_TYPE.UINT8:
          value = b.getValU8(ctx, i);
          break;
        case GGUF_C_TYPE.INT8:
          value = b.getValI8(ctx, i);
          break;
        case GGUF_C_TYPE.UINT16:
          value = b.getValU16(ctx, i);
          break;
        case GGUF_C_TYPE.INT16:
          value = b.getValI16(ctx, i);
          break;
        case GGUF_C_TYPE.UINT32:
          value = b.getValU32(ctx, i);
          break;
        case GGUF_C_TYPE.INT32:
          value = b.getValI32(ctx, i);
          break;
        case GGUF_C_TYPE.FLOAT32:
          value = b.getValF32(ctx, i);
          break;
        case GGUF_C_TYPE.UINT64:
          value = BigInt.asUintN(64, BigInt(b.getValU64(ctx, i)));
          break;
        case GGUF_C_TYPE.INT64:
          value = BigInt.asIntN(64, BigInt(b.getValI64(ctx, i)));
          break;
        case GGUF_C_TYPE.FLOAT64:
          value = b.getValF64(ctx, i);
          break;
        case GGUF_C_TYPE.BOOL:
          value = b.getValBool(ctx, i);
          break;
        case GGUF_C_TYPE.STRING:
          value = b.getValStr(ctx, i);
          break;
        case GGUF_C_TYPE.ARRAY: {
          arrayType = b.getArrType(ctx, i) as number;
          const n = Number(b.getArrN(ctx, i));
          const arr: CScalar[] = [];
          if (arrayType === GGUF_C_TYPE.STRING) {
            for (let j = 0; j < n; j++) arr.push(b.getArrStr(ctx, i, j) as string);
          } else {
            const e = ELEM[arrayType]!;
            const ptr = b.getArrData(ctx, i);
            const bytes = n === 0 ? new Uint8Array(0) : new Uint8Array(koffi.decode(ptr, "uint8_t", n * e.size) as number[]);
            const dv = new DataView(bytes.buffer);
            for (let j = 0; j < n; j++) arr.push(e.get(dv, j * e.size));
          }
          value = arr;
          break;
        }
        default:
          throw new Error(`unexpected gguf type ${type}`);
      }
      kvs.push(arrayType === undefined ? { key, type, value } : { key, type, value, arrayType });
    }
    const tensors: CTensor[] = [];
    const nT = Number(b.getNTensors(ctx));
    for (let i = 0; i < nT; i++) {
      const nePtr = b.getTensorNe(ctx, i);
      const neBytes = new Uint8Array(koffi.decode(nePtr, "uint8_t", 32) as number[]);
      const neView = new DataView(neBytes.buffer);
      const ne = [0, 1, 2, 3].map((d) => Number(neView.getBigInt64(d * 8, true)));
      tensors.push({
        name: b.getTensorName(ctx, i),
        type: b.getTensorType(ctx, i),
        ne,
        offset: Number(b.getTensorOffset(ctx, i)),
        size: Number(b.getTensorSize(ctx, i)),
      });
    }
    return {
      version: b.getVersion(ctx),
      alignment: Number(b.getAlignment(ctx)),
      dataOffset: Number(b.getDataOffset(ctx)),
      kvs,
      tensors,
    };
  } finally {
    b.free(ctx);
  }
}

/**
 * Loads a GGUF *with its data* (gguf_init_from_file, no_alloc=false, into a ggml context), which
 * also makes llama.cpp read the padded data blob to the end; returns each tensor's bytes as
 * llama.cpp sees them, or null when it rejects the file.
 */
export function readGgufTensorDataWithLlama(path: string, names: string[]): Map<string, Uint8Array> | null {
  const b = load();
  const slot = koffi.alloc("void *", 1);
  const ctx = b.initFromFile(path, { no_alloc: false, ctx: slot });
  if (!ctx) return null;
  const gctx = koffi.decode(slot, "void *");
  try {
    const out = new Map<string, Uint8Array>();
    for (const name of names) {
      const t = b.ggmlGetTensor(gctx, name);
      if (!t) throw new Error(`llama.cpp has no tensor ${name}`);
      const n = Number(b.ggmlNbytes(t));
      out.set(name, n === 0 ? new Uint8Array(0) : new Uint8Array(koffi.decode(b.ggmlGetData(t), "uint8_t", n) as number[]));
    }
    return out;
  } finally {
    b.free(ctx);
    if (gctx) b.ggmlFree(gctx);
    koffi.free(slot);
  }
}

export interface CWriteTensor {
  name: string;
  type: number;
  /** ne, ggml order */
  ne: number[];
  data: Uint8Array;
}

function packScalars(type: number, values: CScalar[]): Buffer {
  const e = ELEM[type]!;
  const buf = Buffer.alloc(values.length * e.size);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  values.forEach((v, j) => {
    const o = j * e.size;
    switch (type) {
      case GGUF_C_TYPE.UINT8:
        dv.setUint8(o, v as number);
        break;
      case GGUF_C_TYPE.INT8:
        dv.setInt8(o, v as number);
        break;
      case GGUF_C_TYPE.UINT16:
        dv.setUint16(o, v as number, true);
        break;
      case GGUF_C_TYPE.INT16:
        dv.setInt16(o, v as number, true);
        break;
      case GGUF_C_TYPE.UINT32:
        dv.setUint32(o, v as number, true);
        break;
      case GGUF_C_TYPE.INT32:
        dv.setInt32(o, v as number, true);
        break;
      case GGUF_C_TYPE.FLOAT32:
        dv.setFloat32(o, v as number, true);
        break;
      case GGUF_C_TYPE.BOOL:
        dv.setUint8(o, v ? 1 : 0);
        break;
      case GGUF_C_TYPE.UINT64:
        dv.setBigUint64(o, v as bigint, true);
        break;
      case GGUF_C_TYPE.INT64:
        dv.setBigInt64(o, v as bigint, true);
        break;
      case GGUF_C_TYPE.FLOAT64:
        dv.setFloat64(o, v as number, true);
        break;
      default:
        throw new Error(`cannot pack gguf type ${type}`);
    }
  });
  return buf;
}

/** Writes a GGUF with llama.cpp's own writer (gguf_init_empty … gguf_write_to_file). */
export function writeGgufWithLlama(path: string, kvs: CKV[], tensors: CWriteTensor[]): void {
  const b = load();
  const ctx = b.initEmpty();
  const gctx = b.ggmlInit({ mem_size: (tensors.length + 1) * Number(b.ggmlTensorOverhead()), mem_buffer: null, no_alloc: true });
  const keepAlive: Buffer[] = [];
  try {
    for (const kv of kvs) {
      const v = kv.value;
      switch (kv.type) {
        case GGUF_C_TYPE.UINT8:
          b.setValU8(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.INT8:
          b.setValI8(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.UINT16:
          b.setValU16(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.INT16:
          b.setValI16(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.UINT32:
          b.setValU32(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.INT32:
          b.setValI32(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.FLOAT32:
          b.setValF32(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.UINT64:
          b.setValU64(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.INT64:
          b.setValI64(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.FLOAT64:
          b.setValF64(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.BOOL:
          b.setValBool(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.STRING:
          b.setValStr(ctx, kv.key, v);
          break;
        case GGUF_C_TYPE.ARRAY: {
          const arr = v as CScalar[];
          if (kv.arrayType === GGUF_C_TYPE.STRING) b.setArrStr(ctx, kv.key, arr as string[], arr.length);
          else {
            const packed = packScalars(kv.arrayType!, arr);
            keepAlive.push(packed);
            b.setArrData(ctx, kv.key, kv.arrayType, packed, arr.length);
          }
          break;
        }
        default:
          throw new Error(`unexpected gguf type ${kv.type}`);
      }
    }
    for (const t of tensors) {
      const ne = new BigInt64Array(t.ne.map((x) => BigInt(x)));
      const tensor = b.ggmlNewTensor(gctx, t.type, t.ne.length, ne);
      b.ggmlSetName(tensor, t.name);
      b.addTensor(ctx, tensor);
      const data = Buffer.from(t.data);
      keepAlive.push(data);
      b.setTensorData(ctx, t.name, data);
    }
    if (!b.writeToFile(ctx, path, false)) throw new Error(`gguf_write_to_file failed for ${path}`);
  } finally {
    b.free(ctx);
    b.ggmlFree(gctx);
    keepAlive.length = 0;
  }
}
