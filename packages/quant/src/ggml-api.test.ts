// The public entry points: shape checks with typed errors, offsets, and the embedded WebAssembly being current.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GGMLType, GGML_TYPE_INFO, InputError } from "@moeq/formats";
import {
  QuantShapeError,
  SUPPORTED_QUANT_TYPES,
  UnsupportedQuantTypeError,
  dequantize,
  getGgmlCodec,
  getReferenceCodec,
  quantize,
  quantizeInto,
  quantizeRequiresImatrix,
  quantizedSize,
} from "./index.js";
import { GGML_KERNELS_SOURCE_SHA256 } from "./ggml/ggml-kernels.wasm.js";
import { DISTRIBUTIONS, makeImatrix, makeRows } from "./test-utils/rows.js";

describe("quantize / dequantize API", () => {
  it("lists exactly the supported types", () => {
    expect(SUPPORTED_QUANT_TYPES.map((t) => GGMLType[t]).sort()).toEqual(
      [
        ...["BF16", "F16", "F32", "Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q8_0"],
        ...["IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4", "IQ3_XXS", "IQ3_S"],
        ...["IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_S", "IQ1_M"],
      ].sort(),
    );
  });

  it("requires an imatrix exactly where ggml_quantize_requires_imatrix does", () => {
    expect(quantizeRequiresImatrix(GGMLType.IQ2_XXS)).toBe(true);
    expect(quantizeRequiresImatrix(GGMLType.IQ2_XS)).toBe(true);
    expect(quantizeRequiresImatrix(GGMLType.IQ1_S)).toBe(true);
    expect(quantizeRequiresImatrix(GGMLType.IQ1_M)).toBe(false);
    const needing = SUPPORTED_QUANT_TYPES.filter((t) => quantizeRequiresImatrix(t)).map((t) => GGMLType[t]);
    expect(needing.sort()).toEqual(["IQ1_S", "IQ2_XS", "IQ2_XXS"]);
  });

  it("rejects unsupported types, bad row lengths and imatrix lengths with typed InputErrors", () => {
    const src = new Float32Array(512);
    expect(() => quantize(GGMLType.Q1_0, src, 1, 512)).toThrow(UnsupportedQuantTypeError);
    expect(() => quantize(GGMLType.Q1_0, src, 1, 512)).toThrow(/Q1_0/);
    expect(() => quantize(GGMLType.Q4_K, src, 2, 256 + 32)).toThrow(QuantShapeError);
    expect(() => quantize(GGMLType.Q4_K, src, 1, 288)).toThrow(/not a multiple of Q4_K's block size 256/);
    expect(() => quantize(GGMLType.Q4_0, src, 1, 512, new Float32Array(256))).toThrow(/importance matrix has 256 values, expected one per column \(512\)/);
    expect(() => quantize(GGMLType.Q8_0, src, 3, 512)).toThrow(/overrun/);
    expect(() => dequantize(GGMLType.Q6_K, new Uint8Array(209), 256)).toThrow(QuantShapeError);
    expect(() => quantize(GGMLType.Q4_0, src, -1, 32)).toThrow(InputError);
  });

  it("honours source and destination offsets, streaming rows through the kernel in chunks", () => {
    const nPerRow = 4096;
    const nrows = 40; // several 256 KiB chunks of the wasm path
    const src = makeRows(DISTRIBUTIONS.gaussian, nrows + 2, nPerRow, 5);
    const im = makeImatrix(nPerRow, 6);
    const whole = quantize(GGMLType.Q4_K, src.subarray(nPerRow, (nrows + 1) * nPerRow), nrows, nPerRow, im);
    const bytes = quantizedSize(GGMLType.Q4_K, nrows, nPerRow);
    const dst = new Uint8Array(bytes + 7);
    expect(quantizeInto(GGMLType.Q4_K, src, nPerRow, nrows, nPerRow, im, dst, 7)).toBe(bytes);
    expect(Buffer.from(dst.subarray(7)).equals(whole)).toBe(true);
    // dequantize from a byte offset into an offset of a larger array
    const out = new Float32Array(nPerRow + 3);
    dequantize(GGMLType.Q4_K, dst, nPerRow, 7 + 144 * 16, out, 3);
    expect(Array.from(out.subarray(3))).toEqual(Array.from(dequantize(GGMLType.Q4_K, whole, nPerRow, 144 * 16)));
  });

  it("getGgmlCodec (WebAssembly) and getReferenceCodec (TypeScript) codecs agree at arbitrary offsets", () => {
    const nPerRow = 512;
    const src = makeRows(DISTRIBUTIONS["student-t3"], 5, nPerRow, 9);
    const im = makeImatrix(nPerRow, 10);
    for (const type of SUPPORTED_QUANT_TYPES) {
      const bytes = quantizedSize(type, 3, nPerRow);
      const fast = new Uint8Array(bytes + 5);
      const ref = new Uint8Array(bytes + 5);
      getGgmlCodec(type).quantizeRows(src, nPerRow, 3, nPerRow, im, fast, 5);
      getReferenceCodec(type).quantizeRows(src, nPerRow, 3, nPerRow, im, ref, 5);
      expect(Buffer.from(fast).equals(Buffer.from(ref)), GGMLType[type]).toBe(true);
      const blocks = (3 * nPerRow) / GGML_TYPE_INFO[type].blockSize;
      const a = new Float32Array(3 * nPerRow + 2);
      const b = new Float32Array(3 * nPerRow + 2);
      getGgmlCodec(type).dequantizeBlocks(fast, 5, blocks, a, 2);
      getReferenceCodec(type).dequantizeBlocks(fast, 5, blocks, b, 2);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), GGMLType[type]).toBe(true);
    }
  });

  it("embeds WebAssembly compiled from the current assembly/ggml-kernels.ts (run scripts/build-wasm.mjs)", () => {
    const source = readFileSync(new URL("../assembly/ggml-kernels.ts", import.meta.url));
    expect(createHash("sha256").update(source).digest("hex")).toBe(GGML_KERNELS_SOURCE_SHA256);
  });
});
