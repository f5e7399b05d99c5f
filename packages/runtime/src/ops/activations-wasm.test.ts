import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, wasmHost } from "./wasm-host.js";
import { ggmlSwiglu } from "./ggml-attention-math.js";
import { softmaxRow, type AttentionShape } from "./attention.js";
import { seeded } from "../test-utils/seeded-floats.js";

/** The bits of each float, every NaN as one value (its payload depends on the JIT tier and the engine). */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (u, i) => (Number.isNaN(a[i]) ? 0x7fc00000 : u));
}

/** Values where ggml_v_expf changes regime: ±0, ±Infinity, NaN, the |n| = 192 edges, f32 extremes, subnormals. */
const EDGES = [0, -0, Infinity, -Infinity, NaN, 88.72, -88.72, 133.08, -133.08, 133.1, -133.1, 133.5, -133.5, 3.4e38, -3.4e38, 1e-40, -1e-40, 1e-7, -1e-7];

// Both builds carry the kernels; the relaxed one is the process host here, the baseline one is made for the test.
const hosts: [string, WasmHost | string][] = [
  ["relaxed", wasmHost() ?? "no host"],
  ["baseline", WasmHost.create("baseline")],
];

describe.each(hosts)("ggml softmax / swiglu in the WASM kernels (%s build)", (_, h) => {
  beforeAll(async () => {
    await wasmHost()!.ensureThreads(3);
  });
  const host = () => {
    if (typeof h === "string") throw new Error(h);
    return h;
  };

  it("swiglu: the bits of ggmlSwiglu on random and edge values, odd lengths", () => {
    for (const [n, scale, seed] of [
      [1001, 1, 1],
      [4096, 12, 2],
      [777, 150, 3],
      [65, 1e-3, 4],
      [50001, 20, 9], // large enough to split over threads
    ]) {
      const gate = seeded(n, seed, scale);
      const up = seeded(n, seed + 100, 3);
      gate.set(EDGES, 7);
      up.set(EDGES.slice().reverse(), 30);
      const want = gate.slice();
      ggmlSwiglu(want, up, n);
      const g = host().block("t-gate", n * 4);
      const u = host().block("t-up", n * 4);
      host()
        .f32()
        .set(gate, g / 4);
      host()
        .f32()
        .set(up, u / 4);
      host().swigluGgml(g, u, n);
      expect(
        bits(
          host()
            .f32()
            .slice(g / 4, g / 4 + n),
        ),
      ).toEqual(bits(want));
    }
  });

  it("softmax: the bits of softmaxRow (roundProbs, f16 rounding left out) for causal and chunked rows", () => {
    for (const { lenP, nb, pos0, k0, chunk, scale, seed } of [
      { lenP: 40, nb: 37, pos0: 0, k0: 0, chunk: null, scale: 8, seed: 5 },
      { lenP: 260, nb: 5, pos0: 251, k0: 0, chunk: null, scale: 30, seed: 6 },
      { lenP: 72, nb: 9, pos0: 8250, k0: 8192, chunk: 8192, scale: 3, seed: 7 },
      { lenP: 36, nb: 12, pos0: 20, k0: 0, chunk: 16, scale: 200, seed: 8 },
      { lenP: 1028, nb: 20, pos0: 1005, k0: 0, chunk: null, scale: 5, seed: 9 }, // large enough to split over threads
    ]) {
      const rows = 2 * nb;
      const hd = 64;
      const s: AttentionShape = { n: nb, start: pos0, nh: 2, nkv: 1, hd, chunk, roundProbs: true };
      const scores = seeded(rows * lenP, seed, scale);
      scores.set(
        EDGES.filter((x) => !Number.isNaN(x)),
        lenP + 1,
      ); // huge scores saturate exp to 0 / 1 (no NaN: it would reach every cell)
      const want = scores.slice();
      const lanes = new Float64Array(16);
      for (let r = 0; r < rows; r++) softmaxRow(want, r * lenP, lenP, pos0 + (r % nb), k0, s, lanes, true);
      const off = host().block("t-scores", rows * lenP * 4);
      host()
        .f32()
        .set(scores, off / 4);
      host().softmaxRowsGgml(off, rows, lenP, nb, pos0, k0, chunk ?? 0, Math.fround(1 / Math.sqrt(hd)), host().block("t-tmp", 64));
      expect(
        bits(
          host()
            .f32()
            .slice(off / 4, off / 4 + rows * lenP),
        ),
      ).toEqual(bits(want));
    }
  });
});

describe("elementwise jobs on the kernel threads", () => {
  it("a large swiglu job really runs on the worker threads", async () => {
    const h = wasmHost()!;
    await h.ensureThreads(3);
    const before = h.rowsDone();
    const n = 1 << 20; // milliseconds of work: the workers wake long before the calling thread could finish it alone
    const g = h.block("t-gate", n * 4);
    const u = h.block("t-up", n * 4);
    h.swigluGgml(g, u, n, 3);
    const after = h.rowsDone();
    expect(after.filter((v, i) => v > before[i]).length).toBeGreaterThan(1);
  });
});
