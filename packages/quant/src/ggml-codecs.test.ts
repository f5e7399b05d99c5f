// Every codec against llama.cpp itself: our bytes == ggml_quantize_chunk's and our floats == ggml's to_float,
// for each supported type, with and without an importance matrix, over hard row distributions.
import { describe, expect, it } from "vitest";
import { GGMLType, GGML_TYPE_INFO, ggmlTypeName } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES, dequantize, getReferenceCodec, quantize, quantizeRequiresImatrix, quantizedSize } from "./index.js";
import { ggmlDequantize, ggmlQuantizeChunk } from "@moeq/test-support/ggml-quants";
import { DISTRIBUTIONS, describeFloatMismatch, describeMismatch, makeImatrix, makeRows } from "./test-utils/rows.js";

/** Row shapes: several rows each, so the per-row imatrix paths (row sigma2) and the flat ref paths both show. */
const SHAPES: ReadonlyArray<{ nrows: number; nPerRow: number }> = [
  { nrows: 3, nPerRow: 256 },
  { nrows: 2, nPerRow: 768 },
  { nrows: 1, nPerRow: 4096 },
];

function checkType(type: GGMLType, withImatrix: boolean): void {
  const blockBytes = GGML_TYPE_INFO[type].typeSize;
  const failures: string[] = [];
  let seed = 1;
  for (const [name, dist] of Object.entries(DISTRIBUTIONS)) {
    for (const { nrows, nPerRow } of SHAPES) {
      seed++;
      const src = makeRows(dist, nrows, nPerRow, seed * 7919);
      const imatrix = withImatrix ? makeImatrix(nPerRow, seed) : null;
      const ref = ggmlQuantizeChunk(type, src, nrows, nPerRow, imatrix);
      // the default (WebAssembly) path and the TypeScript reference codec must both equal ggml
      const ours = quantize(type, src, nrows, nPerRow, imatrix);
      const msg = describeMismatch(ours, ref, blockBytes);
      if (msg) failures.push(`quantize ${name} ${nrows}x${nPerRow}: ${msg}`);
      const js = new Uint8Array(quantizedSize(type, nrows, nPerRow));
      getReferenceCodec(type).quantizeRows(src, 0, nrows, nPerRow, imatrix, js, 0);
      const jsMsg = describeMismatch(js, ref, blockBytes);
      if (jsMsg) failures.push(`reference codec ${name} ${nrows}x${nPerRow}: ${jsMsg}`);
      const n = nrows * nPerRow;
      const refFloats = ggmlDequantize(type, ref, n);
      const deq = describeFloatMismatch(dequantize(type, ref, n), refFloats);
      if (deq) failures.push(`dequantize ${name} ${nrows}x${nPerRow}: ${deq}`);
      const jsFloats = new Float32Array(n);
      getReferenceCodec(type).dequantizeBlocks(ref, 0, n / GGML_TYPE_INFO[type].blockSize, jsFloats, 0);
      const jsDeq = describeFloatMismatch(jsFloats, refFloats);
      if (jsDeq) failures.push(`reference dequantize ${name} ${nrows}x${nPerRow}: ${jsDeq}`);
    }
  }
  expect(failures, failures.slice(0, 8).join("\n")).toEqual([]);
}

describe("ggml codecs are byte-identical to ggml_quantize_chunk", () => {
  for (const type of SUPPORTED_QUANT_TYPES) {
    if (quantizeRequiresImatrix(type)) {
      // ggml_quantize_chunk asserts (aborts the process) here; we refuse with a typed error instead
      it(`${ggmlTypeName(type)} without imatrix is refused`, () => {
        expect(() => quantize(type, new Float32Array(256), 1, 256)).toThrow(/requires an importance matrix/);
      });
    } else it(`${ggmlTypeName(type)} without imatrix`, () => checkType(type, false));
    it(`${ggmlTypeName(type)} with a random positive imatrix`, () => checkType(type, true));
  }
});
