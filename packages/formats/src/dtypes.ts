/**
 * Scalar and row codecs between float32 and the element types safetensors and GGUF store.
 *
 * Every float codec works on bit patterns (integer arithmetic on Uint32Array views), never on JS
 * doubles, so NaN payloads and signed zeros survive exactly as ggml handles them.
 *
 * Semantics, per type:
 * - F16: IEEE binary16, round-to-nearest-even, overflow to ±Inf, subnormals kept. NaN becomes
 *   sign|0x7E00 (payload dropped): matches ggml_compute_fp32_to_fp16 (ggml-impl.h), which is also
 *   what the F16C instruction and torch produce for non-NaN input.
 * - BF16: round-to-nearest-even on the top 16 bits, subnormals kept, NaN keeps sign and payload
 *   and gets the quiet bit forced (`(bits >> 16) | 64`): matches ggml_compute_fp32_to_bf16.
 *   torch differs only for NaN: it writes the canonical 0x7FC0 regardless of sign and payload.
 * - F8_E4M3 ("e4m3fn", OCP FP8): bias 7, no Inf, NaN = S.1111.111, max finite 448. We SATURATE:
 *   finite values beyond ±448 and ±Inf become ±448 (NVIDIA __NV_SATFINITE, what FP8 quantizers
 *   want after scaling). torch's plain cast instead turns |x| >= 480 and ±Inf into NaN; every value
 *   torch maps to a finite code maps to the same code here.
 * - F8_E5M2: bias 15, IEEE-like with ±Inf; round-to-nearest-even, overflow to ±Inf (torch semantics),
 *   NaN becomes sign|0x7F.
 * - Integers: decode exactly (I64 through Number, exact up to 2^53). Encode truncates toward zero,
 *   clamps to the type's range and maps NaN to 0 (BOOL: non-zero and NaN → 1, as torch).
 */

export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "F8_E4M3" | "F8_E5M2" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_SIZE: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isSafetensorsDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZE, s);
}

// One shared scratch cell to move a scalar between its float and bit views.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
}

function bitsToF32(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

/**
 * Rounds the magnitude of a finite, non-NaN float32 (bits without sign) to a binary format with
 * `bias` and `manBits` mantissa bits, round-to-nearest-even, subnormals kept. Returns the magnitude
 * code, which may exceed the format's largest finite code; callers clamp (to Inf or saturate).
 */
function roundMagnitude(abs: number, bias: number, manBits: number): number {
  const e = abs >>> 23;
  const mant = abs & 0x7fffff;
  const targetExp = e - 127 + bias;
  if (targetExp >= 1) {
    const drop = 23 - manBits;
    // Large exponents: caller clamps; keep the code from overflowing int32 arithmetic.
    if (targetExp > 0xffff) return 0x7fffffff;
    let code = (targetExp << manBits) + (mant >>> drop);
    const rem = mant & ((1 << drop) - 1);
    const half = 1 << (drop - 1);
    if (rem > half || (rem === half && (code & 1) === 1)) code++; // a carry into the exponent is correct
    return code;
  }
  // Subnormal in the target: value / 2^(1-bias-manBits), rounded. m24 * 2^(e-150) with m24 the
  // 24-bit significand (f32 subnormals have e=0 and no implicit bit; they always round to 0 here).
  const m24 = e === 0 ? mant : mant | 0x800000;
  const shift = 151 - (e === 0 ? 1 : e) - bias - manBits;
  if (shift > 24) return 0; // below half the smallest subnormal
  const q = m24 >>> shift;
  const rem = m24 & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** float32 bits → binary16 bits; equals ggml_compute_fp32_to_fp16 for every input. */
export function f32BitsToF16Bits(w: number): number {
  const sign = (w >>> 16) & 0x8000;
  const abs = w & 0x7fffffff;
  if (abs >= 0x38800000) {
    // >= 2^-14, the smallest normal half
    if (abs >= 0x47800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00); // NaN (quiet, sign kept), or >= 65536 / Inf
    // Rebias the exponent (127 → 15), then round-to-nearest-even on the 13 dropped bits; a carry
    // walks into the exponent, so 65520.. rounds to 0x7C00 (Inf) as it must.
    const m = abs - 0x38000000;
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  if (abs <= 0x33000000) return sign; // <= 2^-25: rounds to zero (2^-25 itself is a tie to even 0)
  return sign | roundMagnitude(abs, 15, 10); // half subnormals (rare)
}

/** binary16 bits → float32 bits; equals ggml_compute_fp16_to_fp32 (NaNs come out quiet, as on x86). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) {
    // Inf stays Inf; NaN keeps its payload and gets the quiet bit (ggml's float multiply quiets sNaN).
    return (sign | 0x7f800000 | (mant << 13) | (mant !== 0 ? 0x400000 : 0)) >>> 0;
  }
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: normalise the significand.
  let e = 113;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** float32 bits → bfloat16 bits; equals ggml_compute_fp32_to_bf16 (ggml-impl.h). */
export function f32BitsToBf16Bits(w: number): number {
  const u = w >>> 0;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff; // NaN: force quiet
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f32ToF16(x: number): number {
  return f32BitsToF16Bits(f32Bits(x));
}
export function f16ToF32(h: number): number {
  return bitsToF32(f16BitsToF32Bits(h & 0xffff));
}
export function f32ToBf16(x: number): number {
  return f32BitsToBf16Bits(f32Bits(x));
}
export function bf16ToF32(h: number): number {
  return bitsToF32((h & 0xffff) << 16);
}

/** float32 → F8 E4M3fn byte, round-to-nearest-even, saturating at ±448 (see the module comment). */
export function f32ToF8E4M3(x: number): number {
  const w = f32Bits(x);
  const sign = (w >>> 24) & 0x80;
  const abs = w & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7f;
  if (abs >= 0x43e00000) return sign | 0x7e; // >= 448 (and Inf): saturate
  const code = roundMagnitude(abs, 7, 3);
  return sign | (code > 0x7e ? 0x7e : code);
}

/** float32 → F8 E5M2 byte, round-to-nearest-even, overflow to ±Inf (torch semantics). */
export function f32ToF8E5M2(x: number): number {
  const w = f32Bits(x);
  const sign = (w >>> 24) & 0x80;
  const abs = w & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7f;
  if (abs >= 0x47800000) return sign | 0x7c; // >= 65536 (and Inf)
  const code = roundMagnitude(abs, 15, 2);
  return sign | (code > 0x7c ? 0x7c : code);
}

function buildF8E4M3Table(): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >>> 3) & 0xf;
    const mant = b & 7;
    if (exp === 0xf && mant === 7) t[b] = NaN;
    else if (exp === 0) t[b] = sign * mant * 2 ** -9;
    else t[b] = sign * (1 + mant / 8) * 2 ** (exp - 7);
  }
  return t;
}
function buildF8E5M2Table(): Float32Array {
  // E5M2 is the top byte of a binary16.
  const t = new Float32Array(256);
  const u = new Uint32Array(t.buffer);
  for (let b = 0; b < 256; b++) u[b] = f16BitsToF32Bits(b << 8);
  return t;
}
const F8E4M3_TO_F32 = buildF8E4M3Table();
const F8E5M2_TO_F32 = buildF8E5M2Table();

export function f8E4M3ToF32(b: number): number {
  return F8E4M3_TO_F32[b & 0xff]!;
}
export function f8E5M2ToF32(b: number): number {
  return F8E5M2_TO_F32[b & 0xff]!;
}

// ---- rows ----------------------------------------------------------------------------------------

function u32View(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function checkDst(dstLen: number, n: number): void {
  if (dstLen < n) throw new RangeError(`destination holds ${dstLen} elements, need ${n}`);
}

/** Equals ggml_fp32_to_fp16_row bit for bit. */
export function f32ToF16Row(src: Float32Array, dst?: Uint16Array): Uint16Array {
  const n = src.length;
  const out = dst ?? new Uint16Array(n);
  checkDst(out.length, n);
  const s = u32View(src);
  for (let i = 0; i < n; i++) out[i] = f32BitsToF16Bits(s[i]!);
  return out;
}

/** Equals ggml_fp16_to_fp32_row bit for bit. */
export function f16ToF32Row(src: Uint16Array, dst?: Float32Array): Float32Array {
  const n = src.length;
  const out = dst ?? new Float32Array(n);
  checkDst(out.length, n);
  const d = u32View(out);
  for (let i = 0; i < n; i++) d[i] = F16_TO_F32_BITS[src[i]!]!;
  return out;
}

/** Equals ggml_fp32_to_bf16_row (the portable path) bit for bit. */
export function f32ToBf16Row(src: Float32Array, dst?: Uint16Array): Uint16Array {
  const n = src.length;
  const out = dst ?? new Uint16Array(n);
  checkDst(out.length, n);
  const s = u32View(src);
  for (let i = 0; i < n; i++) {
    const u = s[i]!;
    out[i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 64 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Equals ggml_bf16_to_fp32_row bit for bit. */
export function bf16ToF32Row(src: Uint16Array, dst?: Float32Array): Float32Array {
  const n = src.length;
  const out = dst ?? new Float32Array(n);
  checkDst(out.length, n);
  const d = u32View(out);
  for (let i = 0; i < n; i++) d[i] = src[i]! << 16;
  return out;
}

// binary16 → float32 bits for all 65536 patterns (256 KiB), the fast path for F16 decoding.
const F16_TO_F32_BITS: Uint32Array = (() => {
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32Bits(h);
  return t;
})();

/**
 * All 65536 binary16 values widened to float32 as ggml_compute_fp16_to_fp32 does (NaNs quiet, payload kept):
 * the one fp16 table every package indexes (`F16_TO_F32[bits]`).
 */
export const F16_TO_F32: Float32Array = new Float32Array(F16_TO_F32_BITS.buffer);

/** Rounds a float32 to the nearest binary16 and back (ggml_fp32_to_fp16 then ggml_fp16_to_fp32). */
export function roundToF16(x: number): number {
  return F16_TO_F32[f32ToF16(x)]!;
}

// ---- whole buffers -------------------------------------------------------------------------------

/** Reinterprets `bytes` as an array of `T`, copying only when the offset is misaligned. */
function aligned<T>(bytes: Uint8Array, elemSize: number, make: (buf: ArrayBufferLike, off: number, len: number) => T): T {
  const len = bytes.byteLength / elemSize;
  if (bytes.byteOffset % elemSize === 0) return make(bytes.buffer, bytes.byteOffset, len);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return make(copy.buffer, 0, len);
}

/** Decodes little-endian elements of `dtype` into float32 (exact for every float type). */
export function decodeToFloat32(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array {
  const size = SAFETENSORS_DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
  }
  const n = bytes.byteLength / size;
  switch (dtype) {
    case "F32": {
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case "F16":
      return f16ToF32Row(aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l)));
    case "BF16":
      return bf16ToF32Row(aligned(bytes, 2, (b, o, l) => new Uint16Array(b, o, l)));
    case "F64":
      return Float32Array.from(aligned(bytes, 8, (b, o, l) => new Float64Array(b, o, l)));
    case "F8_E4M3": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = F8E4M3_TO_F32[bytes[i]!]!;
      return out;
    }
    case "F8_E5M2": {
      const out = new Float32Array(n);
      const d = u32View(out);
      const t = u32View(F8E5M2_TO_F32);
      for (let i = 0; i < n; i++) d[i] = t[bytes[i]!]!;
      return out;
    }
    case "I64": {
      const src = aligned(bytes, 8, (b, o, l) => new BigInt64Array(b, o, l));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]!);
      return out;
    }
    case "I32":
      return Float32Array.from(aligned(bytes, 4, (b, o, l) => new Int32Array(b, o, l)));
    case "I16":
      return Float32Array.from(aligned(bytes, 2, (b, o, l) => new Int16Array(b, o, l)));
    case "I8":
      return Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, n));
    case "U8":
      return Float32Array.from(bytes);
    case "BOOL": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      return out;
    }
  }
}

function intClamp(x: number, lo: number, hi: number): number {
  if (Number.isNaN(x)) return 0;
  const t = Math.trunc(x);
  return t < lo ? lo : t > hi ? hi : t;
}

/** Encodes float32 values as little-endian elements of `dtype` (see the module comment for rounding). */
export function encodeFromFloat32(values: Float32Array, dtype: SafetensorsDType): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case "F32":
      return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case "F16":
      return new Uint8Array(f32ToF16Row(values).buffer);
    case "BF16":
      return new Uint8Array(f32ToBf16Row(values).buffer);
    case "F64":
      return new Uint8Array(Float64Array.from(values).buffer);
    case "F8_E4M3": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF8E4M3(values[i]!);
      return out;
    }
    case "F8_E5M2": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF8E5M2(values[i]!);
      return out;
    }
    case "I64": {
      const out = new BigInt64Array(n);
      // 2^63 is not representable as int64; clamp to the largest double below it.
      for (let i = 0; i < n; i++) out[i] = BigInt(intClamp(values[i]!, -(2 ** 63), 2 ** 63 - 1024));
      return new Uint8Array(out.buffer);
    }
    case "I32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = intClamp(values[i]!, -(2 ** 31), 2 ** 31 - 1);
      return new Uint8Array(out.buffer);
    }
    case "I16": {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = intClamp(values[i]!, -32768, 32767);
      return new Uint8Array(out.buffer);
    }
    case "I8": {
      const out = new Int8Array(n);
      for (let i = 0; i < n; i++) out[i] = intClamp(values[i]!, -128, 127);
      return new Uint8Array(out.buffer);
    }
    case "U8": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = intClamp(values[i]!, 0, 255);
      return out;
    }
    case "BOOL": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0; // NaN counts as true, as in torch
      return out;
    }
  }
}
