import { describe, expect, it } from "vitest";
import { quantizeRowsQ8, Q8_BLOCK, type Q8Kind } from "./q8-activations.js";
import { wasmHost } from "./wasm-host.js";
import { seeded } from "../test-utils/seeded-floats.js";
import { roundToF16 } from "./half.js";

/** Rows with the cases the rounding and the max search must get right, after seeded random values. */
function inputs(kind: Q8Kind): Float32Array {
  const block = Q8_BLOCK[kind];
  const x = seeded(block * 12, 77, 3);
  x.fill(0, 0, block); // an all-zero block
  for (let j = 0; j < block; j++) x[block + j] = (j % 7) - 3 + 0.5; // halfway codes: ties to even
  x[2 * block + 5] = -9; // largest magnitude twice, the negative one first (Q8_K takes its sign)
  x[2 * block + 9] = 9;
  x[3 * block] = 1e-6; // scales in the f16 subnormal range
  x.fill(2e-7, 3 * block + 1, 4 * block);
  x[4 * block + 3] = 70000; // a scale that rounds to infinity in f16 (Q8_0)
  x.fill(-0, 5 * block, 6 * block);
  // (a NaN: both ignore it in the max and give it code 0, but the reference's sum of its 16 turns NaN → 0)
  for (let j = 0; j < block; j++) x[7 * block + j] = (j - block / 2) * 1e-3; // 127/amax·x lands on halves
  return x;
}

describe("WASM activation quantizers", () => {
  for (const kind of ["q8_0", "q8_K"] as const) {
    it(`${kind}: the same codes, scales, sums and int16 codes as the JS reference`, () => {
      const host = wasmHost()!;
      const x = inputs(kind);
      const n = x.length;
      const ref = quantizeRowsQ8(kind, x, 1, n);
      const xf = host.block("test-xf", n * 4);
      const q = host.block("test-q", n);
      const d = host.block("test-d", (n / Q8_BLOCK[kind]) * 4);
      const sums = host.block("test-sums", (n / 16) * 4);
      const x16 = host.block("test-x16", n * 2);
      host.f32().set(x, xf / 4);
      (kind === "q8_0" ? host.quantizeQ8_0 : host.quantizeQ8_K)(xf, n, q, d, sums, x16);
      const buf = host.memory.buffer;
      expect(new Int8Array(buf, q, n)).toEqual(ref.q);
      expect(new Float32Array(buf, d, n / Q8_BLOCK[kind])).toEqual(ref.d);
      expect(new Int32Array(buf, sums, n / 16)).toEqual(ref.sums);
      expect(new Int16Array(buf, x16, n)).toEqual(Int16Array.from(ref.q));
    });
  }

  it("roundF16 rounds as roundToF16 (normals, subnormals, ties, overflow, zeros, infinities)", () => {
    const host = wasmHost()!;
    const x = Float32Array.from([...seeded(2000, 9, 1e-3), ...seeded(500, 10, 1e-6), ...seeded(500, 11, 7e4)]);
    // prettier-ignore
    x.set([0, -0, 65504, 65519, 65520, 65536, Infinity, -Infinity, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6.1e-5, 5.96e-8]);
    const p = host.block("test-round", x.length * 4);
    host.f32().set(x, p / 4);
    host.roundF16(p, x.length);
    expect(new Float32Array(host.memory.buffer, p, x.length)).toEqual(x.map(roundToF16));
  });
});
