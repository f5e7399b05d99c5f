import { GGUFError } from "./format-errors.js";
import { GGUF_MAX_ARRAY_DEPTH, GGUFValueType, isGGUFValueType, type GGUFKV, type GGUFValue } from "./gguf-types.js";

const utf8 = new TextEncoder();

/** Growable little-endian byte buffer for building a GGUF header. */
export class ByteSink {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // Each writer reserves first and only then reads this.buf / this.view: reserve() may replace them.
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  // prettier-ignore
  u8(v: number): void { const at = this.reserve(1); this.view.setUint8(at, v); }
  // prettier-ignore
  i8(v: number): void { const at = this.reserve(1); this.view.setInt8(at, v); }
  // prettier-ignore
  u16(v: number): void { const at = this.reserve(2); this.view.setUint16(at, v, true); }
  // prettier-ignore
  i16(v: number): void { const at = this.reserve(2); this.view.setInt16(at, v, true); }
  // prettier-ignore
  u32(v: number): void { const at = this.reserve(4); this.view.setUint32(at, v, true); }
  // prettier-ignore
  i32(v: number): void { const at = this.reserve(4); this.view.setInt32(at, v, true); }
  // prettier-ignore
  f32(v: number): void { const at = this.reserve(4); this.view.setFloat32(at, v, true); }
  // prettier-ignore
  f64(v: number): void { const at = this.reserve(8); this.view.setFloat64(at, v, true); }
  // prettier-ignore
  u64(v: bigint): void { const at = this.reserve(8); this.view.setBigUint64(at, v, true); }
  // prettier-ignore
  i64(v: bigint): void { const at = this.reserve(8); this.view.setBigInt64(at, v, true); }
  /** u64 byte length + UTF-8 bytes, encoded straight into the buffer (no per-string BigInt or copy). */
  string(s: string): void {
    const maxBytes = s.length * 3; // UTF-16 unit → at most 3 UTF-8 bytes
    const at = this.reserve(8 + maxBytes);
    const { written } = utf8.encodeInto(s, this.buf.subarray(at + 8, at + 8 + maxBytes));
    this.view.setUint32(at, written, true);
    this.view.setUint32(at + 4, 0, true);
    this.length = at + 8 + written; // bytes past `written` were never touched, so they are still zero
  }
  zeros(n: number): void {
    this.reserve(n); // new bytes are already zero, the buffer is never reused
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGE: Partial<Record<GGUFValueType, [number, number]>> = {
  [GGUFValueType.UINT8]: [0, 0xff],
  [GGUFValueType.INT8]: [-0x80, 0x7f],
  [GGUFValueType.UINT16]: [0, 0xffff],
  [GGUFValueType.INT16]: [-0x8000, 0x7fff],
  [GGUFValueType.UINT32]: [0, 0xffffffff],
  [GGUFValueType.INT32]: [-0x80000000, 0x7fffffff],
};

function badValue(what: string, type: GGUFValueType, v: unknown): never {
  const shown = typeof v === "bigint" ? `${v}n` : JSON.stringify(v)?.slice(0, 60);
  throw new GGUFError("GGUF_BAD_VALUE", `${what}: ${shown} is not a valid ${GGUFValueType[type] ?? type}`);
}

/** Writes one scalar of `type`; validates the JS value's type and range first. */
function writeScalar(out: ByteSink, type: GGUFValueType, v: GGUFValue, what: string): void {
  // prettier-ignore
  switch (type) {
    case GGUFValueType.UINT8: case GGUFValueType.INT8: case GGUFValueType.UINT16:
    case GGUFValueType.INT16: case GGUFValueType.UINT32: case GGUFValueType.INT32: {
      const [lo, hi] = INT_RANGE[type]!;
      if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) badValue(what, type, v);
      if (type === GGUFValueType.UINT8) out.u8(v);
      else if (type === GGUFValueType.INT8) out.i8(v);
      else if (type === GGUFValueType.UINT16) out.u16(v);
      else if (type === GGUFValueType.INT16) out.i16(v);
      else if (type === GGUFValueType.UINT32) out.u32(v);
      else out.i32(v);
      return;
    }
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      if (typeof v !== "number") badValue(what, type, v);
      if (type === GGUFValueType.FLOAT32) out.f32(v);
      else out.f64(v);
      return;
    case GGUFValueType.BOOL:
      if (typeof v !== "boolean") badValue(what, type, v);
      out.u8(v ? 1 : 0);
      return;
    case GGUFValueType.UINT64:
    case GGUFValueType.INT64: {
      const unsigned = type === GGUFValueType.UINT64;
      let b: bigint;
      if (typeof v === "bigint") b = v;
      else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
      else badValue(what, type, v);
      if ((unsigned ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b)) !== b) badValue(what, type, v);
      if (unsigned) out.u64(b);
      else out.i64(b);
      return;
    }
    case GGUFValueType.STRING:
      if (typeof v !== "string") badValue(what, type, v);
      out.string(v);
      return;
    default:
      badValue(what, type, v);
  }
}

/** Serialises a KV's value (type tag not included), checking it against its declared type. */
export function writeGgufValue(out: ByteSink, kv: GGUFKV, what: string, depth = 0): void {
  if (!isGGUFValueType(kv.type)) throw new GGUFError("GGUF_UNKNOWN_VALUE_TYPE", `${what}: unknown value type ${kv.type}`);
  if (kv.type !== GGUFValueType.ARRAY) {
    writeScalar(out, kv.type, kv.value, what);
    return;
  }
  if (depth >= GGUF_MAX_ARRAY_DEPTH) throw new GGUFError("GGUF_NESTING_TOO_DEEP", `${what} nests arrays deeper than ${GGUF_MAX_ARRAY_DEPTH}`);
  const et = kv.arrayType;
  if (et === undefined || !isGGUFValueType(et)) throw new GGUFError("GGUF_UNKNOWN_VALUE_TYPE", `${what}: array needs a valid arrayType`);
  if (!Array.isArray(kv.value)) badValue(what, kv.type, kv.value);
  const values = kv.value;
  out.i32(et);
  out.u64(BigInt(values.length));
  if (et === GGUFValueType.ARRAY) {
    const items = kv.items;
    if (!items || items.length !== values.length) {
      throw new GGUFError("GGUF_BAD_VALUE", `${what}: a nested array needs \`items\` (one typed KV per inner array)`);
    }
    items.forEach((item, i) => writeGgufValue(out, item, `${what}[${i}]`, depth + 1));
    return;
  }
  for (let i = 0; i < values.length; i++) writeScalar(out, et, values[i]!, `${what}[${i}]`);
}

/** Serialises a whole KV record: key, type tag, value. */
export function writeGgufKV(out: ByteSink, key: string, kv: GGUFKV): void {
  out.string(key);
  out.i32(kv.type);
  writeGgufValue(out, kv, `metadata "${key}"`);
}
