// F16 / BF16 conversions on raw float32 bit patterns (NaNs, infinities, subnormals, rounding ties) against ggml.
import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { dequantize, getReferenceCodec, quantize } from "./index.js";
import { ggmlDequantize, ggmlQuantizeChunk } from "@moeq/test-support/ggml-quants";
import { describeFloatMismatch, describeMismatch, rng } from "./test-utils/rows.js";

function bitPatterns(count: number): Float32Array {
  const r = rng(99);
  const bits = new Uint32Array(count);
  const special = [
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345, 0x00000001, 0x807fffff, 0x477fe000, 0x477ff000, 0x477fefff, 0x33000000,
    0x33000001, 0x38800000, 0x387fffff, 0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000,
  ];
  bits.set(special);
  for (let i = special.length; i < count; i++) {
    const u = Math.floor(r() * 4294967296);
    // bias half the draws towards the fp16 range (exponents 100…143) so rounding and subnormals get exercised
    bits[i] = i % 2 === 0 ? u : ((u & 0x807fffff) | ((100 + Math.floor(r() * 44)) << 23)) >>> 0;
  }
  return new Float32Array(bits.buffer);
}

describe("F16 and BF16 match ggml on arbitrary float32 bit patterns", () => {
  const src = bitPatterns(1 << 16);
  for (const type of [GGMLType.F16, GGMLType.BF16]) {
    it(`${GGMLType[type]}: quantize (wasm and reference) and dequantize`, () => {
      const ref = ggmlQuantizeChunk(type, src, 1, src.length, null);
      expect(describeMismatch(quantize(type, src, 1, src.length), ref, 2)).toBe("");
      const js = new Uint8Array(ref.length);
      getReferenceCodec(type).quantizeRows(src, 0, 1, src.length, null, js, 0);
      expect(describeMismatch(js, ref, 2)).toBe("");
      expect(describeFloatMismatch(dequantize(type, ref, src.length), ggmlDequantize(type, ref, src.length))).toBe("");
    });
  }
  it("F16 and BF16 to_float agree with ggml on all 65536 half / bfloat16 patterns (NaN payloads included)", () => {
    const all = new Uint8Array(65536 * 2);
    for (let h = 0; h < 65536; h++) {
      all[2 * h] = h & 0xff;
      all[2 * h + 1] = h >> 8;
    }
    for (const type of [GGMLType.F16, GGMLType.BF16]) {
      const ref = ggmlDequantize(type, all, 65536);
      expect(describeFloatMismatch(dequantize(type, all, 65536), ref)).toBe("");
      const js = new Float32Array(65536);
      getReferenceCodec(type).dequantizeBlocks(all, 0, 65536, js, 0);
      expect(describeFloatMismatch(js, ref)).toBe("");
    }
  });

  it("F32 is a bit-exact copy both ways", () => {
    const q = quantize(GGMLType.F32, src, 1, src.length);
    expect(describeMismatch(q, ggmlQuantizeChunk(GGMLType.F32, src, 1, src.length, null), 4)).toBe("");
    expect(describeFloatMismatch(dequantize(GGMLType.F32, q, src.length), src)).toBe("");
  });
});
