import { describe, it, expect } from "vitest";
import { f8E4M3ToF32, seededRandom } from "@moeq/formats";
import { QuantShapeError } from "../errors.js";
import {
  dequantizeFp8,
  encodeFp8,
  firstNonFinite,
  fp8ScaleFromAbsMax,
  fp8Scales,
  fp8ScaleShape,
  fp8SchemeOfScaleShape,
  quantizeFp8,
  FP8_MIN_SCALE,
} from "./fp8.js";

function seeded(n: number, seed = 7): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() - 0.5) * 0.2;
  return out;
}

describe("FP8 E4M3 weight quantization", () => {
  it("scale shapes per scheme, partial 128-blocks rounded up", () => {
    expect(fp8ScaleShape("per-tensor", 300, 200)).toEqual([1]);
    expect(fp8ScaleShape("per-channel", 300, 200)).toEqual([300, 1]);
    expect(fp8ScaleShape("block", 300, 200)).toEqual([3, 2]);
    expect(fp8SchemeOfScaleShape([3, 2], 300, 200)).toBe("block");
    expect(fp8SchemeOfScaleShape([300, 1], 300, 200)).toBe("per-channel");
    expect(fp8SchemeOfScaleShape([1], 300, 200)).toBe("per-tensor");
    expect(fp8SchemeOfScaleShape([2, 2], 300, 200)).toBeUndefined();
  });

  it("the largest |w| of each scale group maps to ±448 (code 0x7E / 0xFE); an all-zero group keeps scale = float32 eps", () => {
    const rows = 200;
    const cols = 130;
    const w = seeded(rows * cols);
    w.fill(0, 5 * cols, 6 * cols); // row 5 all zero
    w[3 * cols + 129] = -1.5; // largest of block (0, 1) and of row 3
    for (const scheme of ["per-tensor", "per-channel", "block"] as const) {
      const { codes, scales } = quantizeFp8(w, rows, cols, scheme);
      expect(codes[3 * cols + 129]).toBe(0xfe);
      if (scheme === "per-channel") expect(scales[5]).toBe(FP8_MIN_SCALE);
      const back = dequantizeFp8(codes, rows, cols, scheme, scales);
      expect(back[3 * cols + 129]).toBe(-1.5);
      for (let i = 0; i < w.length; i++) {
        // E4M3 has 3 mantissa bits: relative error ≤ 2^-4 for normal values, absolute ≤ 2^-10·scale below 2^-6
        const s =
          scales[scheme === "per-tensor" ? 0 : scheme === "per-channel" ? Math.floor(i / cols) : Math.floor(i / cols / 128) * 2 + Math.floor((i % cols) / 128)];
        expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(Math.max(Math.abs(w[i]) / 16, 2 ** -10 * s) * 1.0001);
      }
    }
  });

  it("scale = amax / 448 rounded to f32; codes are e4m3(w / scale) with f32 division", () => {
    expect(fp8ScaleFromAbsMax(448)).toBe(1);
    expect(fp8ScaleFromAbsMax(0)).toBe(2 ** -23);
    expect(fp8ScaleFromAbsMax(1)).toBe(Math.fround(1 / 448));
    const w = Float32Array.of(1, -0.5, 0.001, 0);
    const s = fp8Scales(w, 1, 4, "per-tensor");
    const codes = encodeFp8(w, 1, 4, "per-tensor", s);
    expect(f8E4M3ToF32(codes[0]) * s[0]).toBeCloseTo(1, 6);
    expect(codes[3]).toBe(0);
    expect(codes[1] & 0x80).toBe(0x80);
  });

  it("bad shapes and scale counts are QuantShapeErrors; firstNonFinite finds NaN and Inf", () => {
    expect(() => fp8Scales(new Float32Array(10), 3, 3, "per-tensor")).toThrow(QuantShapeError);
    expect(() => encodeFp8(new Float32Array(9), 3, 3, "per-channel", new Float32Array(2))).toThrow(QuantShapeError);
    expect(firstNonFinite(Float32Array.of(0, 1, Infinity))).toBe(2);
    expect(firstNonFinite(Float32Array.of(NaN))).toBe(0);
    expect(firstNonFinite(Float32Array.of(1, 2))).toBe(-1);
  });
});
