import { describe, expect, it } from "vitest";
import { GGMLType } from "@moeq/formats";
import { quantize } from "@moeq/quant";
import { matmul, matmulJs, matmulKernel } from "./matmul.js";
import { makeWeightMatrix, decodeRow, f32Matrix } from "./weight-matrix.js";
import { ggmlActivationsFor } from "./ggml-activations.js";
import { ggmlBaseLib } from "@moeq/test-support/ggml-lib";
import { ggmlMulMat } from "@moeq/test-support/llama-run";
import { seeded } from "../test-utils/seeded-floats.js";

describe("matmul", () => {
  const rows = 7; // not a multiple of the 4-row block, so the tail path runs too
  const cols = 256;
  const nTok = 5;
  const x = seeded(nTok * cols, 3);

  for (const type of [GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q2_K, GGMLType.Q6_K]) {
    it(`equals decode-then-dot for ${GGMLType[type]} weights`, () => {
      const w = seeded(rows * cols, 11 + type, 0.1);
      const m = makeWeightMatrix(type, cols, rows, quantize(type, w, rows, cols));
      const out = new Float32Array(nTok * rows);
      matmul(m, x, nTok, out);
      const row = new Float32Array(cols);
      for (let r = 0; r < rows; r++) {
        decodeRow(m, r, row);
        for (let t = 0; t < nTok; t++) {
          let s = 0;
          for (let c = 0; c < cols; c++) s += row[c] * x[t * cols + c];
          expect(out[t * rows + r]).toBeCloseTo(s, 5);
        }
      }
    });
  }

  it("the WASM SIMD kernel agrees with the plain-JS reference kernel (odd rows, many tokens)", () => {
    // Node ≥ 20 has WebAssembly SIMD: a module that fails to load must fail here, not quietly compare JS with JS.
    expect(matmulKernel()).toEqual({ kernel: "wasm-simd", variant: "relaxed" });
    const r = 37,
      c = 1024,
      t = 19;
    const m = makeWeightMatrix(GGMLType.Q4_K, c, r, quantize(GGMLType.Q4_K, seeded(r * c, 5, 0.05), r, c));
    const xs = seeded(t * c, 8);
    const a = new Float32Array(t * r);
    const b = new Float32Array(t * r);
    matmul(m, xs, t, a);
    matmulJs(m, xs, t, b);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4 * (1 + Math.abs(b[i])));
    // …and the two kernels are different code: f32 lanes vs f64 accumulation leave some outputs apart in the last bits.
    expect(a.some((v, i) => v !== b[i])).toBe(true);
  });

  it("rejects an activation buffer that is too short", () => {
    const m = f32Matrix(new Float32Array(8), 2, 4);
    expect(() => matmul(m, new Float32Array(3), 1, new Float32Array(2))).toThrow(RangeError);
  });
});

describe("ggmlActivationsFor", () => {
  const lib = ggmlBaseLib();
  const x = seeded(512, 9, 3);

  it("rounds like ggml quantize_row_q8_K_ref + dequantize_row_q8_K for k-quant weights", () => {
    const q = lib.func("void quantize_row_q8_K_ref(const float *x, _Out_ uint8_t *y, int64_t k)");
    const dq = lib.func("void dequantize_row_q8_K(const uint8_t *x, _Out_ float *y, int64_t k)");
    const buf = new Uint8Array(2 * 292);
    q(x, buf, 512);
    const ref = new Float32Array(512);
    dq(buf, ref, 512);
    expect(Array.from(ggmlActivationsFor(GGMLType.Q4_K, x, 1, 512))).toEqual(Array.from(ref));
  });

  it("rounds to a Q8_0 grid (per-32 scale amax/127 as f16) for Q8_0 weights", () => {
    const out = ggmlActivationsFor(GGMLType.Q8_0, x, 1, 512);
    for (let b = 0; b < 512; b += 32) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
      for (let j = 0; j < 32; j++) expect(Math.abs(out[b + j] - x[b + j])).toBeLessThanOrEqual((amax / 127) * 0.5 + 1e-3);
    }
  });

  for (const type of [GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.Q6_K]) {
    it(`with them, our ${GGMLType[type]} matmul equals ggml_mul_mat of libggml-cpu (to f32 rounding)`, () => {
      const rows = 24,
        cols = 512,
        nTok = 6;
      const w = quantize(type, seeded(rows * cols, 40 + type, 0.05), rows, cols);
      const xs = seeded(nTok * cols, 41, 2);
      const ref = ggmlMulMat(type, w, cols, rows, xs, nTok);
      const ours = new Float32Array(nTok * rows);
      const exact = new Float32Array(nTok * rows);
      const m = makeWeightMatrix(type, cols, rows, w);
      matmul(m, ggmlActivationsFor(type, xs, nTok, cols), nTok, ours);
      matmul(m, xs, nTok, exact);
      let dEmu = 0,
        dExact = 0,
        scale = 0;
      for (let i = 0; i < ref.length; i++) {
        dEmu = Math.max(dEmu, Math.abs(ours[i] - ref[i]));
        dExact = Math.max(dExact, Math.abs(exact[i] - ref[i]));
        scale = Math.max(scale, Math.abs(ref[i]));
      }
      expect(dEmu).toBeLessThan(1e-6 * (1 + scale)); // f32 summation-order differences only
      expect(dExact).toBeGreaterThan(10 * dEmu); // the rounding is what llama.cpp does, not noise
    });
  }

  it("leaves activations of F32 weights untouched", () => {
    expect(ggmlActivationsFor(GGMLType.F32, x, 1, 512)).toBe(x);
  });
});
