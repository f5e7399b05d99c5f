/**
 * The ggml type → codec table and the public entry points that check shapes once and dispatch.
 * `quantize` is ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, imatrix) and `dequantize` is the type's
 * to_float, both byte/bit identical to the libggml-base.so that node-llama-cpp 3.21.1 ships (llama.cpp v0.4.0).
 */
import { GGMLType, GGML_TYPE_INFO, ggmlTypeName, isGGMLType } from "@moeq/formats";
import { QuantShapeError, UnsupportedQuantTypeError } from "../errors.js";
import type { GgmlCodec } from "./codec.js";
import { BF16_CODEC, F16_CODEC, F32_CODEC } from "./float.js";
import { Q4_0_CODEC, Q4_1_CODEC, Q5_0_CODEC, Q5_1_CODEC, Q8_0_CODEC } from "./legacy.js";
import { Q2_K_CODEC } from "./q2k.js";
import { Q3_K_CODEC } from "./q3k.js";
import { Q4_K_CODEC } from "./q4k.js";
import { Q5_K_CODEC } from "./q5k.js";
import { Q6_K_CODEC } from "./q6k.js";
import { IQ4_NL_CODEC, IQ4_XS_CODEC } from "./iq4.js";
import { TQ1_0_CODEC, TQ2_0_CODEC } from "./ternary.js";
import { MXFP4_CODEC, NVFP4_CODEC } from "./fp4.js";
import { IQ3_S_CODEC, IQ3_XXS_CODEC } from "./iq3.js";
import { IQ2_S_CODEC, IQ2_XS_CODEC, IQ2_XXS_CODEC } from "./iq2.js";
import { IQ1_M_CODEC, IQ1_S_CODEC } from "./iq1.js";
import { WASM_DEQUANT_TYPES, WASM_QUANT_TYPES, dequantizeBlocksWasm, quantizeRowsWasm } from "./wasm-kernels.js";

/** The TypeScript reference codecs: readable ports of ggml-quants.c, float32 via Math.fround. */
const REFERENCE_CODECS: ReadonlyMap<GGMLType, GgmlCodec> = new Map(
  [
    ...[F32_CODEC, F16_CODEC, BF16_CODEC, Q4_0_CODEC, Q4_1_CODEC, Q5_0_CODEC, Q5_1_CODEC, Q8_0_CODEC],
    ...[Q2_K_CODEC, Q3_K_CODEC, Q4_K_CODEC, Q5_K_CODEC, Q6_K_CODEC],
    ...[IQ4_NL_CODEC, IQ4_XS_CODEC, TQ1_0_CODEC, TQ2_0_CODEC, MXFP4_CODEC, NVFP4_CODEC],
    ...[IQ3_XXS_CODEC, IQ3_S_CODEC, IQ2_XXS_CODEC, IQ2_XS_CODEC, IQ2_S_CODEC, IQ1_S_CODEC, IQ1_M_CODEC],
  ].map((c) => [c.type, c] as const),
);

/** The same codec with the WebAssembly kernels wherever they exist (same bytes and floats, several times faster). */
function withWasmKernels(ref: GgmlCodec): GgmlCodec {
  const { type } = ref;
  const { blockSize, typeSize } = GGML_TYPE_INFO[type];
  return {
    type,
    quantizeRows: WASM_QUANT_TYPES.has(type)
      ? (src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) =>
          quantizeRowsWasm(type, src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset, (nPerRow / blockSize) * typeSize)
      : ref.quantizeRows,
    dequantizeBlocks: WASM_DEQUANT_TYPES.has(type)
      ? (src, srcOffset, nBlocks, dst, dstOffset) => dequantizeBlocksWasm(type, src, srcOffset, nBlocks, blockSize, typeSize, dst, dstOffset)
      : ref.dequantizeBlocks,
  };
}

const CODECS: ReadonlyMap<GGMLType, GgmlCodec> = new Map([...REFERENCE_CODECS.values()].map((c) => [c.type, withWasmKernels(c)] as const));

/**
 * The types `quantize` and `dequantize` handle: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K
 * IQ4_NL IQ4_XS TQ1_0 TQ2_0 MXFP4 NVFP4 IQ3_XXS IQ3_S IQ2_XXS IQ2_XS IQ2_S IQ1_S IQ1_M.
 */
export const SUPPORTED_QUANT_TYPES: readonly GGMLType[] = Object.freeze([...CODECS.keys()]);

function typeLabel(type: GGMLType): string {
  return isGGMLType(type) ? ggmlTypeName(type) : `#${String(type)}`;
}

function unsupported(type: GGMLType): never {
  throw new UnsupportedQuantTypeError("QUANT_UNSUPPORTED_TYPE", `ggml type ${typeLabel(type)} has no quantizer in @moeq/quant`, {
    details: { type, supported: SUPPORTED_QUANT_TYPES.map(ggmlTypeName) },
  });
}

/**
 * The codec for `type` (WebAssembly kernels where available; no shape checks, for hot loops that checked once).
 * Throws UnsupportedQuantTypeError naming the type when there is none.
 */
export function getGgmlCodec(type: GGMLType): GgmlCodec {
  return CODECS.get(type) ?? unsupported(type);
}

/** The TypeScript reference codec for `type`: same bytes as getGgmlCodec's, kept readable and tested against ggml. */
export function getReferenceCodec(type: GGMLType): GgmlCodec {
  return REFERENCE_CODECS.get(type) ?? unsupported(type);
}

/** == ggml_quantize_requires_imatrix: IQ2_XXS, IQ2_XS and IQ1_S cannot be made without an importance matrix. */
export function quantizeRequiresImatrix(type: GGMLType): boolean {
  return type === GGMLType.IQ2_XXS || type === GGMLType.IQ2_XS || type === GGMLType.IQ1_S;
}

function checkCount(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `${what} must be a non-negative integer, got ${String(v)}`, { details: { [what]: v } });
  }
}

/** Bytes `quantize` writes for nrows rows of nPerRow elements of `type` (checks the block multiple). */
export function quantizedSize(type: GGMLType, nrows: number, nPerRow: number): number {
  const codec = getGgmlCodec(type);
  checkCount("nrows", nrows);
  checkCount("nPerRow", nPerRow);
  const info = GGML_TYPE_INFO[codec.type];
  if (nPerRow % info.blockSize !== 0) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `row length ${nPerRow} is not a multiple of ${ggmlTypeName(type)}'s block size ${info.blockSize}`, {
      details: { type: ggmlTypeName(type), nPerRow, blockSize: info.blockSize },
    });
  }
  return nrows * (nPerRow / info.blockSize) * info.typeSize;
}

/**
 * Quantizes into a caller-owned buffer: rows from src[srcOffset…] to dst[dstOffset…]. Returns the bytes written.
 * The imatrix (nPerRow weights, applied to every row) selects ggml's imatrix path exactly where ggml does.
 * Runs the WebAssembly kernels; `getReferenceCodec(type).quantizeRows` is the TypeScript reference with the same bytes.
 */
export function quantizeInto(
  type: GGMLType,
  src: Float32Array,
  srcOffset: number,
  nrows: number,
  nPerRow: number,
  imatrix: Float32Array | null | undefined,
  dst: Uint8Array,
  dstOffset: number,
): number {
  const bytes = quantizedSize(type, nrows, nPerRow);
  checkCount("srcOffset", srcOffset);
  checkCount("dstOffset", dstOffset);
  const name = ggmlTypeName(type);
  if (srcOffset + nrows * nPerRow > src.length) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `${name}: ${nrows}×${nPerRow} values from offset ${srcOffset} overrun the ${src.length}-element source`, {
      details: { nrows, nPerRow, srcOffset, srcLength: src.length },
    });
  }
  if (dstOffset + bytes > dst.length) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `${name}: ${bytes} output bytes from offset ${dstOffset} overrun the ${dst.length}-byte destination`, {
      details: { bytes, dstOffset, dstLength: dst.length },
    });
  }
  if (imatrix != null && imatrix.length !== nPerRow) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `${name}: importance matrix has ${imatrix.length} values, expected one per column (${nPerRow})`, {
      details: { imatrixLength: imatrix.length, nPerRow },
    });
  }
  if (imatrix == null && quantizeRequiresImatrix(type)) {
    throw new QuantShapeError("QUANT_IMATRIX_REQUIRED", `${name} requires an importance matrix`, { details: { type: name } });
  }
  getGgmlCodec(type).quantizeRows(src, srcOffset, nrows, nPerRow, imatrix ?? null, dst, dstOffset);
  return bytes;
}

/** == ggml_quantize_chunk(type, src, dst, start=0, nrows, n_per_row, imatrix): bytes for nrows rows. imatrix has n_per_row weights (or null). */
export function quantize(type: GGMLType, src: Float32Array, nrows: number, nPerRow: number, imatrix?: Float32Array | null): Uint8Array {
  const dst = new Uint8Array(quantizedSize(type, nrows, nPerRow));
  quantizeInto(type, src, 0, nrows, nPerRow, imatrix, dst, 0);
  return dst;
}

/**
 * == ggml's to_float / dequantize_row_*: n elements (multiple of the block size) from src starting at byte srcOffset.
 * Runs the WebAssembly kernels; `getReferenceCodec(type).dequantizeBlocks` is the TypeScript reference.
 */
export function dequantize(type: GGMLType, src: Uint8Array, n: number, srcOffset = 0, dst?: Float32Array, dstOffset = 0): Float32Array {
  const bytes = quantizedSize(type, 1, n);
  checkCount("srcOffset", srcOffset);
  checkCount("dstOffset", dstOffset);
  const name = ggmlTypeName(type);
  if (srcOffset + bytes > src.length) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `${name}: ${n} elements need ${bytes} bytes from offset ${srcOffset}, source has ${src.length}`, {
      details: { n, bytes, srcOffset, srcLength: src.length },
    });
  }
  const out = dst ?? new Float32Array(dstOffset + n);
  if (dstOffset + n > out.length) {
    throw new QuantShapeError("QUANT_BAD_SHAPE", `${name}: ${n} elements from offset ${dstOffset} overrun the ${out.length}-element destination`, {
      details: { n, dstOffset, dstLength: out.length },
    });
  }
  getGgmlCodec(type).dequantizeBlocks(src, srcOffset, n / GGML_TYPE_INFO[type].blockSize, out, dstOffset);
  return out;
}
