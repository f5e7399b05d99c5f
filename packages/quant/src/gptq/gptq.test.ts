import { describe, expect, it } from "vitest";
import { rng } from "../test-utils/rows.js";
import { addRows, createHessian, dequantizeLinear, gptqQuantize, hessianOf, packGptqV1, rtnQuantize, unpackGptqV1 } from "../index.js";
import { GptqHessianError } from "../errors.js";

/** Correlated inputs X [n × cols] (a shared low-rank part plus noise, a few dead columns) and W [rows × cols]. */
function problem(rows: number, cols: number, n: number, seed: number, dead: number[] = []) {
  const r = rng(seed);
  const g = () => (r() + r() + r() - 1.5) * 2;
  const basis = Array.from({ length: 4 }, () => Float32Array.from({ length: cols }, g));
  const X = new Float32Array(n * cols);
  for (let t = 0; t < n; t++) {
    const a = basis.map(() => g());
    for (let c = 0; c < cols; c++) {
      X[t * cols + c] = dead.includes(c) ? 0 : a.reduce((s, v, k) => s + v * basis[k][c], 0) + 0.3 * g();
    }
  }
  const W = Float32Array.from({ length: rows * cols }, () => g() * 0.05);
  const acc = createHessian(cols);
  addRows(acc, X.subarray(0, (n >> 1) * cols), n >> 1);
  addRows(acc, X.subarray((n >> 1) * cols), n - (n >> 1));
  return { W, X, H: hessianOf(acc) };
}

/** ‖(W − Ŵ)Xᵀ‖² over the calibration rows: the quantity GPTQ minimizes. */
function outputError(W: Float32Array, Wq: Float32Array, X: Float32Array, rows: number, cols: number, n: number): number {
  let e = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += (W[r * cols + c] - Wq[r * cols + c]) * X[t * cols + c];
      e += s * s;
    }
  }
  return e;
}

describe("gptq", () => {
  it("streams H = 2/n Σ xxᵀ", () => {
    const { X, H } = problem(4, 8, 10, 1);
    let want = 0;
    for (let t = 0; t < 10; t++) want += X[t * 8 + 2] * X[t * 8 + 5];
    expect(H[2 * 8 + 5]).toBeCloseTo((2 / 10) * want, 12);
    expect(H[5 * 8 + 2]).toBe(H[2 * 8 + 5]);
  });

  for (const [bits, groupSize, actOrder, staticGroups, sym] of [
    [4, 32, false, false, false],
    [4, 32, true, false, false],
    [4, 32, true, true, true],
    [3, -1, false, false, false],
    [2, 32, true, false, true],
    [8, 64, false, false, false],
  ] as const) {
    it(`beats round-to-nearest on its own objective (${bits}-bit g${groupSize}${actOrder ? " act-order" : ""}${staticGroups ? " static" : ""}${sym ? " sym" : ""})`, () => {
      const rows = 32,
        cols = 128,
        n = 400;
      const { W, X, H } = problem(rows, cols, n, 7 + bits, [5, 77]);
      const opts = { bits, groupSize, sym, actOrder, staticGroups, blockSize: 48 };
      const q = gptqQuantize(W, H, rows, cols, opts);
      const rtn = rtnQuantize(W, rows, cols, opts);
      expect(q.deadColumns).toBe(2);
      const Wq = dequantizeLinear(q);
      for (let r = 0; r < rows; r++) expect([Wq[r * cols + 5], Wq[r * cols + 77]].every((v) => Math.abs(v) <= q.scales[q.gIdx[5] * rows + r])).toBe(true);
      const eq = outputError(W, Wq, X, rows, cols, n);
      const er = outputError(W, dequantizeLinear(rtn), X, rows, cols, n);
      expect(eq).toBeLessThan(er);
      // Packing round trip: what the v1 kernels decode is the grid GPTQ chose (no zero of 0 in sym mode).
      const packed = packGptqV1(q);
      const back = unpackGptqV1(packed, rows, cols, bits);
      if (packed.wrappedZeros === 0) expect(Array.from(back)).toEqual(Array.from(Wq));
      if (staticGroups || !actOrder)
        expect(Array.from(q.gIdx)).toEqual(Array.from({ length: cols }, (_, c) => (groupSize === -1 ? 0 : Math.floor(c / groupSize))));
    });
  }

  it("packs 4-bit symmetric zeros as 0x77777777 and codes LSB-first along the input", () => {
    const rows = 32,
      cols = 32;
    const codes = Uint8Array.from({ length: rows * cols }, (_, i) => (i % cols) % 16);
    const q = {
      rows,
      cols,
      bits: 4,
      groupSize: -1,
      sym: true,
      codes,
      scales: new Float64Array(rows).fill(0.5),
      zeros: new Int32Array(rows).fill(8),
      gIdx: new Int32Array(cols),
    };
    const p = packGptqV1(q);
    expect(Array.from(p.qzeros)).toEqual(Array(4).fill(0x77777777));
    expect(p.qweight.length).toBe(4 * rows);
    expect(p.qweight[0] >>> 0).toBe(0x76543210);
    expect(p.qweight[rows] >>> 0).toBe(0xfedcba98);
  });

  it("raises the damping until the factorization succeeds and reports it", () => {
    const H = Float64Array.from([1, 1.5, 1.5, 1]); // eigenvalues 2.5 and −0.5: needs λ·mean(diag) > 0.5
    const q = gptqQuantize(Float32Array.from([0.1, -0.2]), H, 1, 2, { bits: 4, groupSize: -1, sym: false });
    expect(q.percDamp).toBeGreaterThan(0.5);
    expect(q.dampIncreases).toBeGreaterThan(40);
    expect(() => gptqQuantize(Float32Array.from([0.1, -0.2]), Float64Array.from([1, 3, 3, 1]), 1, 2, { bits: 4, groupSize: -1, sym: false })).toThrow(
      GptqHessianError,
    );
  });
});
