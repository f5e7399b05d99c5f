import { describe, expect, it } from "vitest";
import {
  bf16ToF32,
  bf16ToF32Row,
  decodeToFloat32,
  encodeFromFloat32,
  f16ToF32,
  f16ToF32Row,
  f32ToBf16,
  f32ToBf16Row,
  f32ToF16,
  f32ToF16Row,
  f32ToF8E4M3,
  f32ToF8E5M2,
  f8E4M3ToF32,
  f8E5M2ToF32,
  SAFETENSORS_DTYPE_SIZE,
  type SafetensorsDType,
} from "./dtypes.js";
import { ggmlBf16ToFp32Row, ggmlFp16ToFp32Row, ggmlFp32ToBf16Row, ggmlFp32ToFp16Row } from "@moeq/test-support/ggml-gguf";
import { seededUint32 } from "./seeded-random.js";

function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** ≥ 1M float32 bit patterns: random bits, random normals, and every edge we know of. */
function edgeAndRandomF32(n: number, seed: number): Float32Array {
  const edges = [
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fbfffff, 0x7fffffff, 0x00000001, 0x807fffff, 0x00800000,
    0x7f7fffff, 0xff7fffff, 0x3f800000,
    // f16 boundaries: max 65504, 65519 (rounds down), 65520 (tie → Inf), min normal/subnormal and their halves
    0x477fe000, 0x477fefff, 0x477ff000, 0x47800000, 0x38800000, 0x33800000, 0x33000000, 0x33000001, 0x32ffffff,
    // rounding ties for f16 (low 13 bits = 0x1000) and for bf16 (low 16 bits = 0x8000), odd and even
    0x3f801000, 0x3f803000, 0x3f800fff, 0x3f801001, 0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0x7f7f8000, 0x7f7fffff,
  ];
  const out = new Uint32Array(n);
  out.set(edges);
  const r = seededUint32(seed);
  for (let i = edges.length; i < n; i++) {
    const k = i % 4;
    if (k === 0)
      out[i] = r(); // any bit pattern, NaNs included
    else if (k === 1)
      out[i] = ((r() & 0x8000ffff) | 0x38000000) + ((r() % 0x10) << 23); // near the f16 range
    else if (k === 2)
      out[i] = (r() & 0x80001fff) | (((r() % 50) + 100) << 23) | 0x1000; // f16 ties and subnormals
    else out[i] = (r() & 0xffff0000) | 0x8000 | (r() & 0x1); // bf16 ties
  }
  return new Float32Array(out.buffer);
}

describe("f16 and bf16 rows match ggml bit for bit", () => {
  const all16 = new Uint16Array(65536).map((_, i) => i);

  it("decodes all 2^16 half patterns like ggml_fp16_to_fp32_row and re-encodes like ggml_fp32_to_fp16_row", () => {
    const ours = f16ToF32Row(all16);
    const ref = ggmlFp16ToFp32Row(all16);
    expect(firstMismatch(new Uint32Array(ours.buffer), new Uint32Array(ref.buffer))).toBe(-1);
    expect(firstMismatch(f32ToF16Row(ours), ggmlFp32ToFp16Row(ref))).toBe(-1);
    // every non-NaN half survives the round trip unchanged
    const back = f32ToF16Row(ours);
    const changed: number[] = [];
    for (let h = 0; h < 65536; h++) if (((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) && back[h] !== h) changed.push(h);
    expect(changed).toEqual([]);
  });

  it("decodes all 2^16 bfloat patterns like ggml_bf16_to_fp32_row and re-encodes like ggml_fp32_to_bf16_row", () => {
    const ours = bf16ToF32Row(all16);
    const ref = ggmlBf16ToFp32Row(all16);
    expect(firstMismatch(new Uint32Array(ours.buffer), new Uint32Array(ref.buffer))).toBe(-1);
    expect(firstMismatch(f32ToBf16Row(ours), ggmlFp32ToBf16Row(ref))).toBe(-1);
  });

  it("encodes 1M+ random and edge float32 values like ggml (f16 and bf16)", () => {
    const x = edgeAndRandomF32(1 << 20, 12345);
    expect(firstMismatch(f32ToF16Row(x), ggmlFp32ToFp16Row(x))).toBe(-1);
    expect(firstMismatch(f32ToBf16Row(x), ggmlFp32ToBf16Row(x))).toBe(-1);
  });

  it("scalar helpers agree with the row helpers", () => {
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // tie between max and 2^16 goes to even (Inf)
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie to even
    expect(f32ToF16(NaN)).toBe(0x7e00);
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(Math.fround(1 + 2 ** -8))).toBe(0x3f80); // tie to even
    expect(f32ToBf16(Math.fround(1 + 3 * 2 ** -8))).toBe(0x3f82);
    expect(bf16ToF32(0xc000)).toBe(-2);
  });
});

describe("F8 codecs (torch float8 tables, hand-checked)", () => {
  it("E4M3fn decodes the landmark codes", () => {
    const table: [number, number][] = [
      [0x00, 0],
      [0x01, 2 ** -9],
      [0x07, 7 * 2 ** -9],
      [0x08, 2 ** -6],
      [0x38, 1],
      [0x3c, 1.5],
      [0x7e, 448],
      [0xfe, -448],
      [0x77, 240],
      [0x78, 256],
      [0x40, 2],
      [0x80, -0],
    ];
    for (const [b, v] of table) expect(f8E4M3ToF32(b)).toBe(v);
    expect(Number.isNaN(f8E4M3ToF32(0x7f))).toBe(true);
    expect(Number.isNaN(f8E4M3ToF32(0xff))).toBe(true);
    expect(Object.is(f8E4M3ToF32(0x80), -0)).toBe(true);
  });

  it("E4M3fn encodes with round-to-nearest-even and saturates at ±448", () => {
    const table: [number, number][] = [
      [0, 0x00],
      [1, 0x38],
      [-1, 0xb8],
      [448, 0x7e],
      [449, 0x7e],
      [464, 0x7e],
      [480, 0x7e],
      [1e6, 0x7e],
      [Infinity, 0x7e],
      [-Infinity, 0xfe],
      [2 ** -9, 0x01],
      [2 ** -10, 0x00],
      [3 * 2 ** -10, 0x02],
      [1.0625, 0x38],
      [1.1875, 0x3a],
      [2 ** -6, 0x08],
      [15 * 2 ** -10, 0x08],
      [0.3, 0x2a],
      [-0, 0x80],
    ];
    for (const [v, b] of table) expect([v, f32ToF8E4M3(v)]).toEqual([v, b]);
    expect(f32ToF8E4M3(NaN)).toBe(0x7f);
    // every code except NaN round-trips
    for (let b = 0; b < 256; b++) if ((b & 0x7f) !== 0x7f) expect(f32ToF8E4M3(f8E4M3ToF32(b))).toBe(b);
  });

  it("E5M2 decodes, has Inf, and overflows to Inf", () => {
    const table: [number, number][] = [
      [0x3c, 1],
      [0x7b, 57344],
      [0x7c, Infinity],
      [0xfc, -Infinity],
      [0x01, 2 ** -16],
      [0x04, 2 ** -14],
      [0x3d, 1.25],
    ];
    for (const [b, v] of table) expect(f8E5M2ToF32(b)).toBe(v);
    for (const b of [0x7d, 0x7e, 0x7f, 0xfd, 0xff]) expect(Number.isNaN(f8E5M2ToF32(b))).toBe(true);
    const enc: [number, number][] = [
      [1, 0x3c],
      [57344, 0x7b],
      [61439, 0x7b],
      [61440, 0x7c],
      [1e9, 0x7c],
      [-Infinity, 0xfc],
      [2 ** -17, 0x00],
      [3 * 2 ** -17, 0x02],
      [1.125, 0x3c],
      [1.375, 0x3e],
      [-0, 0x80],
    ];
    for (const [v, b] of enc) expect([v, f32ToF8E5M2(v)]).toEqual([v, b]);
    expect(f32ToF8E5M2(NaN)).toBe(0x7f);
    for (let b = 0; b < 256; b++) {
      const isNaN = (b & 0x7c) === 0x7c && (b & 3) !== 0;
      if (!isNaN) expect(f32ToF8E5M2(f8E5M2ToF32(b))).toBe(b);
    }
  });
});

describe("decodeToFloat32 / encodeFromFloat32", () => {
  const values = new Float32Array([0, 1, -2.5, 3.75, 100, -128, 127.9, 0.5]);
  const dtypes = Object.keys(SAFETENSORS_DTYPE_SIZE) as SafetensorsDType[];

  it.each(dtypes)("%s round-trips values it can represent and has the right byte size", (dtype) => {
    const bytes = encodeFromFloat32(values, dtype);
    expect(bytes.byteLength).toBe(values.length * SAFETENSORS_DTYPE_SIZE[dtype]);
    const back = decodeToFloat32(bytes, dtype);
    const expected = Array.from(values, (v) => {
      switch (dtype) {
        case "BOOL":
          return v !== 0 ? 1 : 0;
        case "U8":
          return Math.min(255, Math.max(0, Math.trunc(v)));
        case "I8":
          return Math.min(127, Math.max(-128, Math.trunc(v)));
        case "I16":
        case "I32":
        case "I64":
          return Math.trunc(v);
        case "F8_E4M3":
          return f8E4M3ToF32(f32ToF8E4M3(v));
        case "F8_E5M2":
          return f8E5M2ToF32(f32ToF8E5M2(v));
        case "F16":
          return f16ToF32(f32ToF16(v));
        case "BF16":
          return bf16ToF32(f32ToBf16(v));
        default:
          return v; // f32 values are exact in f32/f64
      }
    });
    expect(Array.from(back)).toEqual(expected.map((x) => (Object.is(x, -0) ? 0 : x)));
  });

  it("decodes from a misaligned view", () => {
    const raw = new Uint8Array(1 + 8);
    raw.set(encodeFromFloat32(new Float32Array([1.5, -3]), "F32"), 1);
    expect(Array.from(decodeToFloat32(raw.subarray(1), "F32"))).toEqual([1.5, -3]);
    raw.set(encodeFromFloat32(new Float32Array([1.5, -3]), "BF16"), 1);
    expect(Array.from(decodeToFloat32(raw.subarray(1, 5), "BF16"))).toEqual([1.5, -3]);
  });

  it("rejects a byte length that is not a whole number of elements", () => {
    expect(() => decodeToFloat32(new Uint8Array(3), "F16")).toThrow(RangeError);
  });
});
