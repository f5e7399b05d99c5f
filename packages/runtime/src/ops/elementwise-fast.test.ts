// The fast paths of the per-token JS ops against straightforward statements of what they compute (the code they
// replaced): the same bits for every input, the awkward ones included.
import { describe, expect, it } from "vitest";
import { roundToF16 as roundToF16Formats } from "@moeq/formats";
import { roundRowToF16 } from "./half.js";
import { swigluGgml } from "./elementwise.js";
import { ggmlExpf, ggmlExpfRow, reduceAdd16, reduceAdd16At } from "./ggml-attention-math.js";
import { seeded } from "../test-utils/seeded-floats.js";

const f = Math.fround;

/** ggml_v_expf as first written: every step rounded to f32, 2ⁿ through Math.pow. */
function expfRef(x: number): number {
  const z = f(x * f(1.4426950216293335) + 12582912);
  const n = f(z - 12582912);
  const b = f(-n * f(1.428606765330187e-6) + f(-n * f(0.693145751953125) + x));
  if (Math.abs(n) > 192) return n <= 0 ? 0 : Infinity;
  const u = f(b * b);
  const c = [0.008247390389442444, 0.04189976677298546, 0.16668395698070526, 0.4999912679195404, 0.9999994039535522].map(f);
  const j = f(f(f(c[0] * b + c[1]) * u + f(c[2] * b + c[3])) * u + f(c[4] * b + 1));
  return f(j * Math.pow(2, n));
}

/** f32 values from bit patterns: every sign/exponent with mantissas around f16's rounding points, plus specials. */
function awkwardFloats(): Float32Array {
  const lows = [0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x5000, 0x7fffff, 0x7fe000, 0x7ff000, 0x7ff001, 0x400000];
  const bits = new Uint32Array(2 * 256 * lows.length);
  let i = 0;
  for (let sign = 0; sign < 2; sign++) for (let e = 0; e < 256; e++) for (const m of lows) bits[i++] = ((sign << 31) | (e << 23) | m) >>> 0;
  return new Float32Array(bits.buffer);
}

/**
 * Cells whose bits differ; any NaN equals any NaN (which NaN arithmetic on a NaN returns depends on the JIT tier
 * and operand order, in the code replaced as much as in the new one).
 */
function sameBits(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) bad++;
  return bad;
}

describe("per-token op fast paths", () => {
  it("roundRowToF16 gives roundToF16's bits, in place and into an offset destination", () => {
    const x = Float32Array.from([...awkwardFloats(), ...seeded(4096, 7, 70000), ...seeded(4096, 8, 1e-4)]);
    const ref = x.map(roundToF16Formats);
    const dst = new Float32Array(x.length + 3);
    roundRowToF16(x, dst, 3);
    expect(sameBits(dst.subarray(3), ref)).toBe(0);
    roundRowToF16(x);
    expect(sameBits(x, ref)).toBe(0);
  });

  it("ggmlExpf equals the step-by-step emulation for every exponent, NaN and ±Inf", () => {
    const x = Float32Array.from([...awkwardFloats(), ...seeded(20000, 9, 100), ...seeded(2000, 10, 200)]);
    const ours = x.map(ggmlExpf);
    const ref = x.map(expfRef);
    expect(sameBits(ours, ref)).toBe(0);
  });

  it("swigluGgml equals (g / (1 + expf(−g))) · up with every step in f32", () => {
    const g = Float32Array.from([...awkwardFloats(), ...seeded(20000, 11, 100), ...seeded(4000, 12, 3)]);
    const up = Float32Array.from([...seeded(g.length - 1000, 13, 4), ...awkwardFloats().subarray(0, 1000)]);
    const ref = g.map((v, i) => f(f(v / f(1 + expfRef(-v))) * up[i]));
    swigluGgml(g, up, g.length);
    expect(sameBits(g, ref)).toBe(0);
  });

  it("ggmlExpfRow equals ggmlExpf(x − sub) cell by cell and leaves the cells outside its range alone", () => {
    const x = Float32Array.from([...awkwardFloats(), ...seeded(8000, 15, 60)]);
    for (const sub of [0, 3.25, -17.5, 1e30]) {
      const ours = x.slice();
      ggmlExpfRow(ours, 5, x.length - 5, sub);
      const ref = x.map((v, i) => (i < 5 || i >= x.length - 5 ? v : expfRef(f(v - sub))));
      expect(sameBits(ours, ref)).toBe(0);
    }
  });

  it("reduceAdd16At sums like reduceAdd16 over a copy", () => {
    const x = seeded(64, 14, 1000);
    for (let o = 0; o + 16 <= x.length; o += 5) expect(reduceAdd16At(x, o)).toBe(reduceAdd16(Float64Array.from(x.subarray(o, o + 16))));
  });
});
