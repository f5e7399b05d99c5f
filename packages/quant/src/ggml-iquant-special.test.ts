// Edge rows for the grid i-quants (IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S) against ggml_quantize_chunk: the
// whole-row WebAssembly quantizers and the TypeScript reference must give ggml's bytes on all-zero blocks and
// sub-blocks, one huge value, tiny and subnormal magnitudes, an imatrix with zeros, alternating signs, constant rows,
// each row alone and all of them in one multi-row chunk (rows of different character back to back).
import { describe, expect, it } from "vitest";
import { GGMLType, GGML_TYPE_INFO, ggmlTypeName } from "@moeq/formats";
import { getReferenceCodec, quantize, quantizeRequiresImatrix } from "./index.js";
import { ggmlQuantizeChunk } from "@moeq/test-support/ggml-quants";
import { DISTRIBUTIONS, GRID_IQUANT_TYPES, describeMismatch, makeImatrix, makeRows } from "./test-utils/rows.js";

const N = 512; // two super-blocks per row
const gaussian = (seed: number, scale: number): Float32Array => makeRows(DISTRIBUTIONS.gaussian, 1, N, seed).map((v) => v * scale);

/** Named edge rows of N values. */
function edgeRows(): ReadonlyArray<readonly [string, Float32Array]> {
  const rows: Array<[string, Float32Array]> = [];
  rows.push(["all zero", new Float32Array(N)]);
  const zeroSuper = gaussian(11, 1);
  zeroSuper.fill(0, 0, 256);
  rows.push(["first super-block zero", zeroSuper]);
  const zeroSub = gaussian(12, 1);
  zeroSub.fill(0, 32, 64); // a zero 32-block (IQ3_S does not advance qs / signs past it)
  zeroSub.fill(0, 256 + 16 * 5, 256 + 16 * 6); // a zero 16-block (IQ2_XS / IQ2_S / IQ1_M)
  zeroSub.fill(-0, 256 + 160, 256 + 192);
  rows.push(["zero sub-blocks", zeroSub]);
  const huge = gaussian(13, 0.02);
  huge[37] = 1e5;
  huge[300] = -3e4;
  rows.push(["one huge value", huge]);
  rows.push(["tiny 1e-30", gaussian(14, 1e-30)]);
  rows.push(["subnormal 1e-40", gaussian(15, 1e-40)]);
  const mixedTiny = gaussian(16, 1);
  for (let i = 0; i < 256; i++) mixedTiny[i] *= 1e-9;
  rows.push(["tiny half, normal half", mixedTiny]);
  rows.push(["alternating ±1", Float32Array.from({ length: N }, (_, i) => (i % 2 ? -1 : 1))]);
  const alt = gaussian(17, 0.1);
  for (let i = 0; i < N; i++) alt[i] = (i % 2 ? -1 : 1) * (0.5 + Math.abs(alt[i]));
  rows.push(["alternating signs, noisy", alt]);
  rows.push(["constant 0.37", new Float32Array(N).fill(0.37)]);
  rows.push(["constant −2.5", new Float32Array(N).fill(-2.5)]);
  const sparse = new Float32Array(N);
  sparse[5] = 0.75;
  sparse[256 + 200] = -1.25;
  rows.push(["one value per super-block", sparse]);
  rows.push(["gaussian 0.02", gaussian(18, 0.02)]);
  return rows;
}

/** The imatrix variants a type takes: none (where ggml allows it), random positive, and with zeros. */
function imatrices(type: GGMLType): ReadonlyArray<readonly [string, Float32Array | null]> {
  const withZeros = makeImatrix(N, 21);
  for (let i = 0; i < N; i += 3) withZeros[i] = 0;
  withZeros.fill(0, 64, 96); // a whole 32-block of zero weights
  const out: Array<[string, Float32Array | null]> = [
    ["random imatrix", makeImatrix(N, 20)],
    ["imatrix with zeros", withZeros],
  ];
  if (!quantizeRequiresImatrix(type)) out.unshift(["no imatrix", null]);
  return out;
}

function check(type: GGMLType, label: string, src: Float32Array, nrows: number, imatrix: Float32Array | null, failures: string[]): void {
  const bytes = GGML_TYPE_INFO[type].typeSize;
  const ref = ggmlQuantizeChunk(type, src, nrows, N, imatrix);
  const ours = describeMismatch(quantize(type, src, nrows, N, imatrix), ref, bytes);
  if (ours) failures.push(`${label}: ${ours}`);
  const js = new Uint8Array(ref.length);
  getReferenceCodec(type).quantizeRows(src, 0, nrows, N, imatrix, js, 0);
  const jsMsg = describeMismatch(js, ref, bytes);
  if (jsMsg) failures.push(`${label} (reference codec): ${jsMsg}`);
}

/** The bytes, or "throws" when quantizing throws. */
function outcome(f: () => Uint8Array): string {
  try {
    return Buffer.from(f()).toString("hex");
  } catch {
    return "throws";
  }
}

describe("grid i-quant edge rows are byte-identical to ggml_quantize_chunk", () => {
  const rows = edgeRows();
  for (const type of GRID_IQUANT_TYPES) {
    it(
      ggmlTypeName(type),
      () => {
        const failures: string[] = [];
        for (const [imName, imatrix] of imatrices(type)) {
          for (const [name, row] of rows) check(type, `${name}, ${imName}`, row, 1, imatrix, failures);
          // every edge row in one chunk: the whole-row path walks them back to back
          const chunk = new Float32Array(rows.length * N);
          rows.forEach(([, row], r) => chunk.set(row, r * N));
          check(type, `all ${rows.length} rows in one chunk, ${imName}`, chunk, rows.length, imatrix, failures);
        }
        expect(failures, failures.slice(0, 8).join("\n")).toEqual([]);
      },
      300_000,
    );
  }

  // where ggml aborts (GGML_ASSERT on a grid index: distances or scales overflow), not compared with ggml: the
  // WebAssembly path and the reference must agree, both throwing or both giving the same bytes
  it("non-finite and overflowing inputs: WebAssembly and reference agree", () => {
    const failures: string[] = [];
    for (const type of GRID_IQUANT_TYPES) {
      for (const v of [1e20, 1e30, Infinity, -Infinity, NaN]) {
        const src = gaussian(30, 0.5);
        src[7] = v;
        const im = makeImatrix(N, 31);
        const wasm = outcome(() => quantize(type, src, 1, N, im));
        const ref = outcome(() => {
          const out = new Uint8Array((N / 256) * GGML_TYPE_INFO[type].typeSize);
          getReferenceCodec(type).quantizeRows(src, 0, 1, N, im, out, 0);
          return out;
        });
        if (wasm !== ref) failures.push(`${ggmlTypeName(type)} x=${v}: WebAssembly ${wasm.slice(0, 16)}… reference ${ref.slice(0, 16)}…`);
      }
    }
    expect(failures).toEqual([]);
  });
});
