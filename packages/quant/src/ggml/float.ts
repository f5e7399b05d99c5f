/**
 * The unquantized targets of ggml_quantize_chunk: F32 (memcpy), F16 (ggml_fp32_to_fp16_row) and BF16
 * (ggml_fp32_to_bf16_row_ref), and their to_float. Conversions work on the float32 bit patterns, so NaN payloads
 * and signed zeros come out exactly as ggml writes them.
 */
import { GGMLType, F16_TO_F32, f32BitsToBf16Bits, f32BitsToF16Bits } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";

const FP16_TO_FP32_BITS = new Uint32Array(F16_TO_F32.buffer);

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

export const F32_CODEC: GgmlCodec = {
  type: GGMLType.F32,
  quantizeRows(src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) {
    const n = nrows * nPerRow;
    dst.set(new Uint8Array(src.buffer, src.byteOffset + srcOffset * 4, n * 4), dstOffset);
  },
  dequantizeBlocks(src, so, n, y, yo) {
    new Uint8Array(y.buffer, y.byteOffset + yo * 4, n * 4).set(src.subarray(so, so + n * 4));
  },
};

export const F16_CODEC: GgmlCodec = {
  type: GGMLType.F16,
  quantizeRows(src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) {
    const n = nrows * nPerRow;
    const bits = bitsOf(src);
    for (let i = 0, o = dstOffset; i < n; i++, o += 2) {
      const h = f32BitsToF16Bits(bits[srcOffset + i]);
      dst[o] = h & 0xff;
      dst[o + 1] = h >>> 8;
    }
  },
  dequantizeBlocks(src, so, n, y, yo) {
    const out = bitsOf(y);
    for (let i = 0; i < n; i++, so += 2) out[yo + i] = FP16_TO_FP32_BITS[src[so] | (src[so + 1] << 8)];
  },
};

export const BF16_CODEC: GgmlCodec = {
  type: GGMLType.BF16,
  quantizeRows(src, srcOffset, nrows, nPerRow, _imatrix, dst, dstOffset) {
    const n = nrows * nPerRow;
    const bits = bitsOf(src);
    for (let i = 0, o = dstOffset; i < n; i++, o += 2) {
      const h = f32BitsToBf16Bits(bits[srcOffset + i]);
      dst[o] = h & 0xff;
      dst[o + 1] = h >>> 8;
    }
  },
  dequantizeBlocks(src, so, n, y, yo) {
    const out = bitsOf(y);
    for (let i = 0; i < n; i++, so += 2) out[yo + i] = ((src[so] | (src[so + 1] << 8)) << 16) >>> 0;
  },
};
