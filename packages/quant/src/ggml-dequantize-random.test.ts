// Dequantization of arbitrary block bytes (every scale, level, sign and high-bit pattern, not only what the
// quantizers emit) against ggml's dequantize_row_*, for the WebAssembly path and the TypeScript reference.
// The fp16 fields are kept finite so NaN payload propagation (not specified by WebAssembly) stays out of scope.
import { describe, expect, it } from "vitest";
import { GGMLType, GGML_TYPE_INFO, ggmlTypeName } from "@moeq/formats";
import { dequantize, getReferenceCodec } from "./index.js";
import { ggmlDequantize } from "@moeq/test-support/ggml-quants";
import { describeFloatMismatch, rng } from "./test-utils/rows.js";

/** Byte offsets of each block type's fp16 fields (every type with a dequantizer is listed). */
const FP16_FIELDS: Partial<Record<GGMLType, readonly number[]>> = {
  [GGMLType.Q4_0]: [0],
  [GGMLType.Q4_1]: [0, 2],
  [GGMLType.Q5_0]: [0],
  [GGMLType.Q5_1]: [0, 2],
  [GGMLType.Q8_0]: [0],
  [GGMLType.Q2_K]: [80, 82],
  [GGMLType.Q3_K]: [108],
  [GGMLType.Q4_K]: [0, 2],
  [GGMLType.Q5_K]: [0, 2],
  [GGMLType.Q6_K]: [208],
  [GGMLType.IQ4_NL]: [0],
  [GGMLType.IQ4_XS]: [0],
  [GGMLType.TQ1_0]: [52],
  [GGMLType.TQ2_0]: [64],
  [GGMLType.IQ3_XXS]: [0],
  [GGMLType.IQ3_S]: [0],
  [GGMLType.IQ2_XXS]: [0],
  [GGMLType.IQ2_XS]: [0],
  [GGMLType.IQ2_S]: [0],
  [GGMLType.IQ1_S]: [0],
  [GGMLType.IQ1_M]: [], // its fp16 d is spread over the scale nibbles (kept finite below)
  [GGMLType.MXFP4]: [], // E8M0 and UE4M3 scales: every byte is finite
  [GGMLType.NVFP4]: [],
};

describe("dequantize matches ggml on random block bytes", () => {
  for (const [key, fields] of Object.entries(FP16_FIELDS)) {
    const type = Number(key) as GGMLType;
    it(ggmlTypeName(type), () => {
      const { blockSize, typeSize } = GGML_TYPE_INFO[type];
      const nBlocks = 512;
      const r = rng(type * 31 + 7);
      const bytes = new Uint8Array(nBlocks * typeSize);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
      for (let b = 0; b < nBlocks; b++) {
        for (const f of fields) {
          const o = b * typeSize + f;
          if ((bytes[o + 1] & 0x7c) === 0x7c) bytes[o + 1] &= 0xfb; // exponent 31 (inf/NaN) → 30
        }
        if (type === GGMLType.IQ1_M) bytes[b * typeSize + 55] &= 0xbf; // d's exponent bit 14 (bit 14 of scales u16 #3) → 0
      }
      const n = nBlocks * blockSize;
      const ref = ggmlDequantize(type, bytes, n);
      expect(describeFloatMismatch(dequantize(type, bytes, n), ref)).toBe("");
      const js = new Float32Array(n);
      getReferenceCodec(type).dequantizeBlocks(bytes, 0, nBlocks, js, 0);
      expect(describeFloatMismatch(js, ref)).toBe("");
    });
  }
});
