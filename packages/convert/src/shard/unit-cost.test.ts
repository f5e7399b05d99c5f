import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES } from "@moeq/quant";
import { COPY_NS_PER_BYTE, DECODE_NS_PER_ELEMENT, QUANTIZE_NS_PER_ELEMENT, tensorCost } from "./unit-cost.js";
import { assignUnitsToShards } from "./shard-spec.js";

describe("tensorCost", () => {
  it("has a measured quantize and decode cost for every type @moeq/quant handles", () => {
    for (const t of SUPPORTED_QUANT_TYPES) {
      expect(QUANTIZE_NS_PER_ELEMENT[t], `quantize ${t}`).toBeGreaterThan(0);
      expect(DECODE_NS_PER_ELEMENT[t], `decode ${t}`).toBeGreaterThan(0);
    }
    expect(COPY_NS_PER_BYTE).toBeGreaterThan(0);
  });

  it("is decode + encode per element plus the written bytes; a kept tensor costs its bytes read and written", () => {
    const n = 4096 * 256;
    const q4k = tensorCost({ elements: n, from: GGMLType.F16, to: GGMLType.Q4_K, copy: false });
    expect(q4k).toBeCloseTo(n * (DECODE_NS_PER_ELEMENT[GGMLType.F16]! + QUANTIZE_NS_PER_ELEMENT[GGMLType.Q4_K]!) + (n / 256) * 144 * COPY_NS_PER_BYTE, 3);
    expect(tensorCost({ elements: n, from: GGMLType.F32, to: GGMLType.F32, copy: true })).toBeCloseTo(2 * 4 * n * COPY_NS_PER_BYTE, 3);
    // a copy is far cheaper than any k-quant of the same tensor
    expect(tensorCost({ elements: n, from: GGMLType.F16, to: GGMLType.F16, copy: true })).toBeLessThan(q4k / 5);
  });

  it("weights a grid i-quant far above a k-quant of the same shape, unlike output bytes", () => {
    const n = 4096 * 256;
    const iq2 = tensorCost({ elements: n, from: GGMLType.F16, to: GGMLType.IQ2_XS, copy: false });
    const q4k = tensorCost({ elements: n, from: GGMLType.F16, to: GGMLType.Q4_K, copy: false });
    expect(iq2 / q4k).toBeGreaterThan(3);
  });

  it("costs a type missing from the table as the slowest one it knows", () => {
    const n = 1024;
    expect(QUANTIZE_NS_PER_ELEMENT[GGMLType.Q8_1]).toBeUndefined(); // ggml has it, @moeq/quant does not quantize to it
    const unknown = tensorCost({ elements: n, from: GGMLType.Q8_1, to: GGMLType.Q8_1, copy: false });
    const slowest = Math.max(...Object.values(QUANTIZE_NS_PER_ELEMENT).map(Number)) + Math.max(...Object.values(DECODE_NS_PER_ELEMENT).map(Number));
    expect(unknown).toBeGreaterThanOrEqual(n * slowest);
  });

  it("splits an IQ2_XS + Q8_0 mixture evenly by compute where output bytes would not", () => {
    // IQ2_XS tensors of 272·256·64 elements and Q8_0 ones of 74·256·64 write the same bytes (74 vs 272 per 256)
    const iq2 = { elements: 272 * 256 * 64, from: GGMLType.F16, to: GGMLType.IQ2_XS, copy: false };
    const q8 = { elements: 74 * 256 * 64, from: GGMLType.F16, to: GGMLType.Q8_0, copy: false };
    const work = [iq2, q8, iq2, q8];
    const costs = work.map(tensorCost);
    const loads = (owner: number[]): number[] => [1, 2].map((s) => owner.reduce((a, o, i) => (o === s ? a + costs[i] : a), 0));
    const byCost = loads(assignUnitsToShards(costs, 2));
    expect(Math.max(...byCost) / Math.min(...byCost)).toBeLessThan(1.01);
    const bytes = work.map((w) => (w.to === GGMLType.IQ2_XS ? (w.elements / 256) * 74 : (w.elements / 32) * 34));
    expect(bytes[0]).toBe(bytes[1]);
    // by bytes all four tie, so both IQ2_XS tensors land on shard 1
    const byBytes = loads(assignUnitsToShards(bytes, 2));
    expect(Math.max(...byBytes) / Math.min(...byBytes)).toBeGreaterThan(10);
  });
});
