// MXFP4 and NVFP4 scale edges against ggml: block maxima just below, at and just above every power of two
// (MXFP4's floorf(log2f(max)) must round exactly as libm's log2f does) and across the UE4M3 range (rounding carries,
// subnormal scales, the 448 clamp), and the level choice at and one ulp around every midpoint between fp4 levels.
import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { getReferenceCodec, quantize } from "./index.js";
import { ggmlQuantizeChunk } from "@moeq/test-support/ggml-quants";
import { describeMismatch, rng } from "./test-utils/rows.js";

/** One block of `blockSize` per maximum: the maximum at a varying index, the rest random below it. */
function blocksWithMaxima(maxima: readonly number[], blockSize: number): Float32Array {
  const r = rng(11);
  const out = new Float32Array(maxima.length * blockSize);
  maxima.forEach((m, b) => {
    for (let j = 0; j < blockSize; j++) out[b * blockSize + j] = m * (2 * r() - 1);
    out[b * blockSize + (b % blockSize)] = b % 2 ? -m : m;
  });
  return out;
}

function powerOfTwoNeighbours(lo: number, hi: number): number[] {
  const f = new Float32Array(3);
  const out: number[] = [];
  for (let k = lo; k <= hi; k++) {
    f[1] = 2 ** k;
    f[0] = f[1] * (1 - 2 ** -24);
    f[2] = f[1] * (1 + 2 ** -23);
    out.push(...f);
  }
  return out.filter((v) => v > 0 && Number.isFinite(v));
}

function check(type: GGMLType, blockSize: number, maxima: number[]): void {
  const src = blocksWithMaxima(maxima, blockSize);
  const n = src.length;
  const ref = ggmlQuantizeChunk(type, src, 1, n);
  expect(describeMismatch(quantize(type, src, 1, n), ref, type === GGMLType.MXFP4 ? 17 : 36)).toBe("");
  const js = new Uint8Array(ref.length);
  getReferenceCodec(type).quantizeRows(src, 0, 1, n, null, js, 0);
  expect(describeMismatch(js, ref, type === GGMLType.MXFP4 ? 17 : 36)).toBe("");
}

/** The float32 neighbours of v (v itself, one ulp below, one ulp above; v > 0). */
function ulpNeighbours(v: number): number[] {
  const bits = new Uint32Array(new Float32Array([v]).buffer)[0];
  return [bits, bits - 1, bits + 1].map((b) => new Float32Array(new Uint32Array([b]).buffer)[0]);
}

/**
 * Blocks whose maximum 6·2^s sets the level step 2^(s−1) (both types): every midpoint between the fp4 magnitudes
 * 0, 1, 2, 3, 4, 6, 8, 12 (C's strict < keeps the lower index on a tie) and its ulp neighbours, with both signs.
 */
function midpointRows(blockSize: number): Float32Array {
  const values: number[] = [];
  for (const mid of [0.5, 1.5, 2.5, 3.5, 5, 7, 10]) values.push(...ulpNeighbours(mid / 2));
  const rows: number[] = [];
  for (let s = -12; s < 12; s++) {
    for (let sign = -1; sign <= 1; sign += 2) {
      const block = [sign * 6 * 2 ** s];
      for (let j = 0; block.length < blockSize; j++) block.push((j % 2 ? -sign : sign) * values[j % values.length] * 2 ** s);
      rows.push(...block);
    }
  }
  return new Float32Array(rows);
}

describe("fp4 block scales match ggml at their rounding edges", () => {
  for (const [type, blockSize, bytes] of [
    [GGMLType.MXFP4, 32, 17],
    [GGMLType.NVFP4, 16, 36],
  ] as const) {
    it(`${type === GGMLType.MXFP4 ? "MXFP4" : "NVFP4"} levels at and around every midpoint`, () => {
      const src = midpointRows(blockSize);
      const ref = ggmlQuantizeChunk(type, src, 1, src.length);
      expect(describeMismatch(quantize(type, src, 1, src.length), ref, bytes)).toBe("");
      const js = new Uint8Array(ref.length);
      getReferenceCodec(type).quantizeRows(src, 0, 1, src.length, null, js, 0);
      expect(describeMismatch(js, ref, bytes)).toBe("");
    });
  }
  it("MXFP4 around every power of two", () => check(GGMLType.MXFP4, 32, powerOfTwoNeighbours(-149, 127)));
  it("NVFP4 across the UE4M3 range", () => {
    const maxima = powerOfTwoNeighbours(-20, 12);
    for (let i = 0; i < 400; i++) maxima.push(6 * 2 ** (-12 + i / 20));
    check(GGMLType.NVFP4, 64, maxima);
  });
});
