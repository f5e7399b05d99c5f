import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { quantize } from "@moeq/quant";
import { matmul, matmulGgml, matmulJs } from "./matmul.js";
import { makeWeightMatrix, decodeRow } from "./weight-matrix.js";
import { WeightStore, type TensorSource } from "../store/weight-store.js";
import { ggmlActivationsFor } from "./ggml-activations.js";
import { WasmHost, relaxedSimdUsable, wasmHost, type RelaxedSimdApi } from "./wasm-host.js";
import { intMatmul } from "./int-matmul.js";
import { seeded } from "../test-utils/seeded-floats.js";
import { matmulQ8_0Exact } from "./ggml-q8-0-dot.js";
import { matmulKQuantExact } from "./ggml-kquant-dot.js";
import { ggmlMatmul } from "./ggml-matmul.js";

// prettier-ignore
const TYPES = [GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q8_0, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];

/** dequant(W) · dequant(quant(x)) in f64: what the integer block dots compute, up to float scaling order. */
function reference(type: GGMLType, m: ReturnType<typeof makeWeightMatrix>, x: Float32Array, nTok: number): Float64Array {
  const { rows, cols } = m;
  const xq = ggmlActivationsFor(type, x, nTok, cols);
  const out = new Float64Array(nTok * rows);
  const row = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    decodeRow(m, r, row);
    for (let t = 0; t < nTok; t++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += row[c] * xq[t * cols + c];
      out[t * rows + r] = s;
    }
  }
  return out;
}

describe("matmulGgml: integer block dots over 8-bit activations", () => {
  const rows = 13; // not a multiple of the 4-row block
  const cols = 512;
  const nTok = 6; // one 4-token pass plus two single tokens
  const x = seeded(nTok * cols, 21);

  for (const type of TYPES) {
    it(`equals dequant(W)·dequant(quant(x)) for ${GGMLType[type]} weights`, () => {
      const m = makeWeightMatrix(type, cols, rows, quantize(type, seeded(rows * cols, 30 + type, 0.1), rows, cols));
      const out = new Float32Array(nTok * rows);
      matmulGgml(m, x, nTok, out);
      const ref = reference(type, m, x, nTok);
      let scale = 0;
      for (const v of ref) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - ref[i])).toBeLessThan(2e-5 * scale);
    });
  }

  for (const type of [GGMLType.Q8_0, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q4_K, GGMLType.Q6_K]) {
    // 1 and 2 tokens: Q4_K/Q6_K rows multiplied straight from their blocks; 6: decoded rows
    for (const n of [nTok, 2, 1]) {
      it(`${GGMLType[type]}, ${n} tokens: ggmlMatmul's WASM path bit-identical to the scalar emulation of ggml's AVX2 vec_dot (lane order)`, () => {
        const m = makeWeightMatrix(type, cols, rows, quantize(type, seeded(rows * cols, 50 + type, 0.1), rows, cols));
        const xs = x.subarray(0, n * cols);
        const ours = new Float32Array(n * rows);
        const exact = new Float32Array(n * rows);
        ggmlMatmul(m, xs, n, ours);
        (type === GGMLType.Q8_0 ? matmulQ8_0Exact : matmulKQuantExact)(m, xs, n, exact);
        expect(ours).toEqual(exact);
      });
    }
  }

  it("gives the same bits on 1 and 3 threads, and the workers really compute rows", async () => {
    const host = wasmHost()!;
    await host.ensureThreads(3);
    const r = 300,
      c = 1024,
      t = 9;
    const m = makeWeightMatrix(GGMLType.Q4_K, c, r, quantize(GGMLType.Q4_K, seeded(r * c, 5, 0.05), r, c));
    const xs = seeded(t * c, 8);
    const one = new Float32Array(t * r);
    const three = new Float32Array(t * r);
    matmulGgml(m, xs, t, one, 1);
    const before = host.rowsDone();
    let workerRows = [0, 0];
    // claims are dynamic: repeat until both workers have taken rows (each call hands out 12 chunks)
    for (let i = 0; i < 20 && workerRows.some((n) => n === 0); i++) {
      matmulGgml(m, xs, t, three, 3);
      expect(three).toEqual(one);
      const now = host.rowsDone();
      workerRows = [now[1] - before[1], now[2] - before[2]];
    }
    expect(workerRows.every((n) => n > 0)).toBe(true);
  });
});

describe("matmulGgml: the default numerics' tiled prompt kernel (4 rows × 2 tokens, more than 2 tokens)", () => {
  // prettier-ignore
  const TILED = [GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K];
  const cols = 512;

  for (const type of TILED) {
    it(`${GGMLType[type]}: every edge tile (rows 1…7, 13; 3…7 tokens) equals the one-token kernel up to float order`, () => {
      for (const rows of [1, 2, 3, 4, 5, 6, 7, 13]) {
        const m = makeWeightMatrix(type, cols, rows, quantize(type, seeded(rows * cols, 70 + type + rows, 0.1), rows, cols));
        for (const nTok of [3, 4, 5, 6, 7]) {
          const x = seeded(nTok * cols, 90 + nTok);
          const tiled = new Float32Array(nTok * rows);
          matmulGgml(m, x, nTok, tiled);
          // one token at a time: the row-by-row kernel (the same integer sums, another f32 order)
          const single = new Float32Array(nTok * rows);
          for (let t = 0; t < nTok; t++) matmulGgml(m, x.subarray(t * cols, (t + 1) * cols), 1, single.subarray(t * rows, (t + 1) * rows));
          let scale = 0;
          for (const v of single) scale = Math.max(scale, Math.abs(v));
          for (let i = 0; i < single.length; i++) expect(Math.abs(tiled[i] - single[i])).toBeLessThanOrEqual(1e-6 * scale);
          expect(tiled.some((v) => v !== 0)).toBe(true);
        }
      }
    });
  }

  it("writes no output outside its rows (ldo = rows, rows not a multiple of 4)", () => {
    const rows = 7,
      nTok = 5;
    const m = makeWeightMatrix(GGMLType.Q4_K, cols, rows, quantize(GGMLType.Q4_K, seeded(rows * cols, 3, 0.1), rows, cols));
    const out = new Float32Array(nTok * rows + 8).fill(12345);
    matmulGgml(m, seeded(nTok * cols, 4), nTok, out);
    expect(Array.from(out.subarray(nTok * rows))).toEqual(new Array(8).fill(12345));
  });

  for (const type of [GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q5_1, GGMLType.Q5_K, GGMLType.Q6_K]) {
    it(`${GGMLType[type]}: the same bits on 1 and 3 threads (301 rows, 7 tokens)`, async () => {
      await wasmHost()!.ensureThreads(3);
      const r = 301,
        c = 1024,
        t = 7;
      const m = makeWeightMatrix(type, c, r, quantize(type, seeded(r * c, 6 + type, 0.05), r, c));
      const xs = seeded(t * c, 10);
      const one = new Float32Array(t * r);
      const three = new Float32Array(t * r);
      matmulGgml(m, xs, t, one, 1);
      matmulGgml(m, xs, t, three, 3);
      expect(three).toEqual(one);
    });
  }
});

describe("relaxed-SIMD and baseline builds of the kernels", () => {
  it("the process host runs the relaxed build (Node 20 through --experimental-wasm-relaxed-simd)", () => {
    expect(wasmHost()!.variant).toBe("relaxed");
  });
  it("falls back to the baseline build when asked, without relaxed SIMD, or with an unfused multiply-add", () => {
    const real = (globalThis as unknown as { WebAssembly: RelaxedSimdApi }).WebAssembly;
    let flagged = 0;
    const flag = () => flagged++;
    expect(relaxedSimdUsable(real, {}, flag)).toBe(true);
    expect(relaxedSimdUsable(real, { MOEQ_WASM_RELAXED: "0" }, flag)).toBe(false);
    // an engine that never validates relaxed SIMD: the flag is tried once, then the baseline
    flagged = 0;
    expect(relaxedSimdUsable({ validate: () => false, Module: real.Module, Instance: real.Instance }, {}, flag)).toBe(false);
    expect(flagged).toBe(1);
    // an engine whose relaxed_madd rounds the product first: the probe sees 0, not 2^-24
    const Unfused = function () {
      return { exports: { f: () => 0 } };
    } as unknown as RelaxedSimdApi["Instance"];
    expect(relaxedSimdUsable({ validate: () => true, Module: real.Module, Instance: Unfused }, {}, flag)).toBe(false);
  });
  const relaxed = WasmHost.create("relaxed");
  const baseline = WasmHost.create("baseline");
  for (const type of TYPES) {
    it(`${GGMLType[type]}: the same bits from both builds, default and exact numerics, 1…7 tokens`, () => {
      if (typeof relaxed === "string" || typeof baseline === "string") throw new Error(`${String(relaxed)} / ${String(baseline)}`);
      const r = 37,
        c = 512;
      const m = makeWeightMatrix(type, c, r, quantize(type, seeded(r * c, 70 + type, 0.05), r, c));
      for (const exact of [false, true])
        for (const nTok of [1, 2, 3, 4, 7]) {
          const x = seeded(nTok * c, 80 + nTok);
          const a = new Float32Array(nTok * r);
          const b = new Float32Array(nTok * r);
          expect(intMatmul(relaxed, m, x, nTok, a, 1, exact)).toBe(true);
          expect(intMatmul(baseline, m, x, nTok, b, 1, exact)).toBe(true);
          expect(a).toEqual(b);
        }
    });
  }
});

describe("f32 gemm over the shared memory", () => {
  it("an F32 weight from the store runs in place on 3 threads with the bits of 1 thread (≈ the JS reference)", async () => {
    await wasmHost()!.ensureThreads(3);
    const r = 200,
      c = 1024,
      t = 5;
    const values = seeded(r * c, 4, 0.05);
    const src: TensorSource = {
      type: GGMLType.F32,
      ne: [c, r],
      readSlice: () => new Uint8Array(values.buffer.slice(0)),
      readRow: (i) => new Uint8Array(values.buffer.slice(i * c * 4, (i + 1) * c * 4)),
    };
    const store = new WeightStore("mem", new Map([["w", src]]));
    const m = store.matrix("w");
    expect(wasmHost()!.holds(m.data)).toBe(true);
    const xs = seeded(t * c, 9);
    const one = new Float32Array(t * r);
    const three = new Float32Array(t * r);
    const ref = new Float32Array(t * r);
    matmul(m, xs, t, one, 1);
    matmul(m, xs, t, three, 3);
    matmulJs(m, xs, t, ref);
    expect(three).toEqual(one);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(one[i] - ref[i])).toBeLessThan(1e-4 * (1 + Math.abs(ref[i])));
    store.close();
  });
});
