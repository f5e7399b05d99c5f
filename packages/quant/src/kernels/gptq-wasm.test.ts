import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { rng } from "../test-utils/rows.js";
import { subtractBlockErrors, subtractRankOne } from "./block-update.js";
import { upperCholeskyOfInverse } from "./cholesky.js";
import { GPTQ_KERNELS_SOURCE_SHA256 } from "./gptq-kernels.wasm.js";
import { createGptqWorkspace } from "./gptq-wasm.js";

/** A random SPD matrix B·Bᵀ/k + 0.05·I from a rank-k B (k < n makes it ill-conditioned, like a real Hessian). */
function spd(n: number, k: number, seed: number): Float64Array {
  const r = rng(seed);
  const B = Float64Array.from({ length: n * k }, () => r() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += B[i * k + p] * B[j * k + p];
      A[i * n + j] = A[j * n + i] = s / k + (i === j ? 0.05 : 0);
    }
  return A;
}

function worstRelative(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}

describe("GPTQ WebAssembly kernels", () => {
  // Sizes around the 64-wide panels and 4×4 tiles: a single partial panel, exact panels, ragged tails.
  for (const [n, k] of [
    [1, 1],
    [5, 3],
    [64, 20],
    [131, 40],
    [257, 300],
  ]) {
    it(`factorInverse matches the TypeScript upperCholeskyOfInverse, n = ${n}`, () => {
      const H = spd(n, k, n);
      const damp = 0.01;
      const A = Float64Array.from(H);
      for (let i = 0; i < n; i++) A[i * n + i] += damp;
      const ref = upperCholeskyOfInverse(A, n)!;
      const ws = createGptqWorkspace(3, n, 16);
      expect(ws.factorInverse(H, damp)).toBe(true);
      expect(worstRelative(ws.Hinv, ref)).toBeLessThan(1e-12);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(ws.Hinv[i * n + j]).toBe(0);
    });
  }

  it("factorInverse is false for a matrix that is not positive definite", () => {
    expect(createGptqWorkspace(1, 2, 2).factorInverse(Float64Array.from([1, 2, 2, 1]), 0)).toBe(false);
  });

  for (const [rows, n, block] of [
    [7, 19, 5],
    [130, 300, 128],
  ]) {
    it(`rank-one and lazy block updates match the TypeScript ones, WT [${n} × ${rows}], block ${block}`, () => {
      const r = rng(rows + n);
      const ws = createGptqWorkspace(rows, n, block);
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) ws.Hinv[i * n + j] = r() - 0.5;
      ws.WT.set(Float64Array.from({ length: n * rows }, () => r() - 0.5));
      ws.Err.set(Float64Array.from({ length: block * rows }, () => r() - 0.5));
      ws.err.set(Float64Array.from({ length: rows }, () => r() - 0.5));
      const WT = Float64Array.from(ws.WT);
      for (let i1 = 0; i1 < n; i1 += block) {
        const i2 = Math.min(i1 + block, n);
        ws.subtractRankOne(i1, i1 + 1, i2);
        subtractRankOne(WT, rows, Float64Array.from(ws.err), ws.Hinv, n, i1, i1 + 1, i2);
        ws.subtractBlockErrors(i1, i2);
        subtractBlockErrors(WT, rows, Float64Array.from(ws.Err), ws.Hinv, n, i1, i2);
      }
      expect(worstRelative(ws.WT, WT)).toBeLessThan(1e-13);
    });
  }

  it("embeds WebAssembly compiled from the current assembly/gptq-kernels.ts (run scripts/build-wasm.mjs)", () => {
    const source = readFileSync(new URL("../../assembly/gptq-kernels.ts", import.meta.url));
    expect(createHash("sha256").update(source).digest("hex")).toBe(GPTQ_KERNELS_SOURCE_SHA256);
  });
});
