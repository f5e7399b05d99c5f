// fmaf against the exact value (BigInt) rounded to f32: the double rounding that f(a·b + c) suffers must not happen.
import { describe, expect, it } from "vitest";
import { fmaf } from "./fmaf.js";

const f = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => ((f32[0] = x), u32[0]);
const fromBits = (b: number) => ((u32[0] = b >>> 0), f32[0]);

/** An f32 value times 2^150, exactly, as a BigInt (every f32 is a multiple of 2^-149). */
function scaled(x: number): bigint {
  if (x === 0) return 0n;
  const w = new BigUint64Array(new Float64Array([Math.abs(x)]).buffer)[0];
  const e = Number(w >> 52n);
  const m = (w & ((1n << 52n) - 1n)) | (1n << 52n);
  const shift = e - 1075 + 150;
  const v = shift >= 0 ? m << BigInt(shift) : m >> BigInt(-shift);
  return x < 0 ? -v : v;
}

/** a·b + c rounded once to the nearest f32, ties to even (the answer is within an ulp of f(a·b + c)). */
function exactFma(a: number, b: number, c: number): number {
  const exact = scaled(a) * scaled(b) + scaled(c) * (1n << 150n);
  const r = f(a * b + c);
  let best = r;
  let bestDist = -1n;
  for (const cand of [fromBits(bitsOf(r) - 1), r, fromBits(bitsOf(r) + 1)]) {
    if (!Number.isFinite(cand)) continue;
    let d = exact - scaled(cand) * (1n << 150n);
    if (d < 0n) d = -d;
    if (bestDist < 0n || d < bestDist || (d === bestDist && (bitsOf(cand) & 1) === 0)) {
      best = cand;
      bestDist = d;
    }
  }
  return best;
}

describe("fmaf", () => {
  it("rounds once where f(a·b + c) rounds twice (exact value just off an f32 tie, both signs)", () => {
    // a·b = 2^-24·(1 − 2^-30): c + a·b lies just below the tie between c = 1 + 2^-23 and 1 + 2^-22
    const a = f(2 ** -12 * (1 + 2 ** -15)),
      b = f(2 ** -12 * (1 - 2 ** -15)),
      c = f(1 + 2 ** -23);
    for (const [x, y, z] of [
      [a, b, c],
      [-a, b, -c],
    ]) {
      expect(fmaf(x, y, z)).toBe(exactFma(x, y, z));
      expect(fmaf(x, y, z)).toBe(z);
      expect(f(x * y + z)).not.toBe(z);
    }
  });
  it("equals the exact value rounded to f32 on 20 000 seeded triples (wide exponents and near-cancellation)", () => {
    let s = 12345;
    const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
    const value = (span: number) => f((rnd() - 0.5) * 2 ** Math.floor((rnd() - 0.5) * span));
    let wrong = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = value(40),
        b = value(40);
      const c = rnd() < 0.5 ? value(60) : f(-(a * b) * (1 + (rnd() - 0.5) * 2 ** -20));
      if (fmaf(a, b, c) !== exactFma(a, b, c)) wrong++;
    }
    expect(wrong).toBe(0);
  });
});
