import { describe, expect, it } from "vitest";
import { f32ToF8E4M3, f8E4M3ToF32 } from "@moeq/formats";
import { FP8_MIN_DYNAMIC_SCALE, fakeQuantizeFp8Activations } from "./fp8-activations.js";

const f = Math.fround;
const x = Float32Array.from({ length: 2 * 256 }, (_, i) => Math.sin(i * 0.731) * (i < 256 ? 3 : 0.01) * (i % 128 < 64 ? 1 : 20));

describe("fakeQuantizeFp8Activations", () => {
  it("static: e4m3(x / s) · s, saturating at ±448 · s", () => {
    const s = 0.004;
    const out = fakeQuantizeFp8Activations(Float32Array.of(1, -1e6, 0.3), 1, 3, { kind: "static", scale: s });
    expect(out[0]).toBe(f(f8E4M3ToF32(f32ToF8E4M3(f(1 / f(s)))) * f(s)));
    expect(out[1]).toBe(f(-448 * f(s)));
    expect(() => fakeQuantizeFp8Activations(x, 2, 256, { kind: "static", scale: 0 })).toThrow(/positive and finite/);
  });

  it("token: each row's absolute maximum lands on ±448 exactly; a zero row keeps the minimum scale", () => {
    const out = fakeQuantizeFp8Activations(x, 2, 256, { kind: "token" });
    for (let r = 0; r < 2; r++) {
      const row = x.subarray(r * 256, (r + 1) * 256);
      const amax = Math.max(...row.map(Math.abs));
      const s = f(f(amax) / 448);
      const i = row.findIndex((v) => Math.abs(v) === amax);
      expect(Math.abs(out[r * 256 + i]!)).toBe(f(448 * s));
      for (let c = 0; c < 256; c++) expect(Math.abs(out[r * 256 + c]! - row[c]!)).toBeLessThanOrEqual(amax / 16 + 1e-12);
    }
    expect([...fakeQuantizeFp8Activations(new Float32Array(4), 1, 4, { kind: "token" })]).toEqual([0, 0, 0, 0]);
    expect(FP8_MIN_DYNAMIC_SCALE).toBe(f(1 / (448 * 512)));
  });

  it("group 128: finer than per-token where the groups' ranges differ", () => {
    const g = fakeQuantizeFp8Activations(x, 2, 256, { kind: "group", groupSize: 128 });
    const t = fakeQuantizeFp8Activations(x, 2, 256, { kind: "token" });
    let eg = 0;
    let et = 0;
    for (let i = 0; i < x.length; i++) {
      eg += (g[i]! - x[i]!) ** 2;
      et += (t[i]! - x[i]!) ** 2;
    }
    expect(eg).toBeLessThan(et);
    expect(() => fakeQuantizeFp8Activations(x, 2, 256, { kind: "group", groupSize: 100 })).toThrow(/does not divide/);
  });

  it("tensor: one scale over the whole batch", () => {
    const out = fakeQuantizeFp8Activations(x, 2, 256, { kind: "tensor" });
    const amax = Math.max(...x.map(Math.abs));
    expect(Math.max(...out.map(Math.abs))).toBe(f(448 * f(f(amax) / 448)));
  });
});
