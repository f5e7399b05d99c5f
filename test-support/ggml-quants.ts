// koffi bindings to llama.cpp's own quantizers and dequantizers in libggml-base.so, used as the oracle
// by @moeq/quant's tests and bench. Test-only: no package imports this.
import { ggmlBaseLib } from "./ggml-lib.js";

type QuantizeChunk = (type: number, src: Float32Array, dst: Uint8Array, start: number, nrows: number, nPerRow: number, imatrix: Float32Array | null) => number;
type ToFloat = (src: Uint8Array, dst: Float32Array, n: number) => void;

let quantizeChunkFn: QuantizeChunk | undefined;
let quantizeInitFn: ((type: number) => void) | undefined;
let rowSizeFn: ((type: number, n: number) => number) | undefined;
const toFloatFns = new Map<number, ToFloat>();

function bind(): void {
  if (quantizeChunkFn) return;
  const lib = ggmlBaseLib();
  quantizeChunkFn = lib.func(
    "size_t ggml_quantize_chunk(int type, const float *src, _Inout_ uint8_t *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix)",
  ) as QuantizeChunk;
  quantizeInitFn = lib.func("void ggml_quantize_init(int type)") as (type: number) => void;
  rowSizeFn = lib.func("size_t ggml_row_size(int type, int64_t ne)") as (type: number, n: number) => number;
}

/** ggml's quantized row size in bytes for `n` elements of `type`. */
export function ggmlRowSize(type: number, n: number): number {
  bind();
  return rowSizeFn!(type, n);
}

/** ggml_quantize_chunk(type, src, dst, 0, nrows, nPerRow, imatrix): the reference bytes, single-threaded. */
export function ggmlQuantizeChunk(type: number, src: Float32Array, nrows: number, nPerRow: number, imatrix?: Float32Array | null): Uint8Array {
  bind();
  quantizeInitFn!(type);
  const dst = new Uint8Array(ggmlRowSize(type, nPerRow) * nrows);
  const written = quantizeChunkFn!(type, src, dst, 0, nrows, nPerRow, imatrix ?? null);
  if (written !== dst.length) throw new Error(`ggml_quantize_chunk wrote ${written} bytes, expected ${dst.length}`);
  return dst;
}

/** Same as ggmlQuantizeChunk but into a caller-owned buffer (for the bench: no allocation per call). */
export function ggmlQuantizeChunkInto(type: number, src: Float32Array, dst: Uint8Array, nrows: number, nPerRow: number, imatrix?: Float32Array | null): number {
  bind();
  return quantizeChunkFn!(type, src, dst, 0, nrows, nPerRow, imatrix ?? null);
}

/** Symbol name of ggml's to_float for each type id we test (exported from libggml-base.so). */
const TO_FLOAT_SYMBOL: Record<number, string> = {
  0: "", // F32: plain copy, handled in JS
  1: "ggml_fp16_to_fp32_row",
  30: "ggml_bf16_to_fp32_row",
  2: "dequantize_row_q4_0",
  3: "dequantize_row_q4_1",
  6: "dequantize_row_q5_0",
  7: "dequantize_row_q5_1",
  8: "dequantize_row_q8_0",
  10: "dequantize_row_q2_K",
  11: "dequantize_row_q3_K",
  12: "dequantize_row_q4_K",
  13: "dequantize_row_q5_K",
  14: "dequantize_row_q6_K",
  16: "dequantize_row_iq2_xxs",
  17: "dequantize_row_iq2_xs",
  18: "dequantize_row_iq3_xxs",
  19: "dequantize_row_iq1_s",
  20: "dequantize_row_iq4_nl",
  21: "dequantize_row_iq3_s",
  22: "dequantize_row_iq2_s",
  23: "dequantize_row_iq4_xs",
  29: "dequantize_row_iq1_m",
  34: "dequantize_row_tq1_0",
  35: "dequantize_row_tq2_0",
  39: "dequantize_row_mxfp4",
  40: "dequantize_row_nvfp4",
};

/** ggml's to_float for `type`: n elements (a multiple of the block size) from `src`. */
export function ggmlDequantize(type: number, src: Uint8Array, n: number): Float32Array {
  return ggmlDequantizeInto(type, src, new Float32Array(n), n);
}

/** ggml's to_float into a caller-owned array (for the bench). F32 is a byte copy, as ggml's is a memcpy. */
export function ggmlDequantizeInto(type: number, src: Uint8Array, dst: Float32Array, n: number): Float32Array {
  if (type === 0) {
    new Uint8Array(dst.buffer, dst.byteOffset, n * 4).set(src.subarray(0, n * 4));
    return dst;
  }
  let fn = toFloatFns.get(type);
  if (!fn) {
    const sym = TO_FLOAT_SYMBOL[type];
    if (!sym) throw new Error(`no ggml to_float binding for type ${type}`);
    fn = ggmlBaseLib().func(`void ${sym}(const uint8_t *x, _Out_ float *y, int64_t k)`) as ToFloat;
    toFloatFns.set(type, fn);
  }
  fn(src, dst, n);
  return dst;
}
