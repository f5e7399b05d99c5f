/**
 * The one place the converter calls @moeq/quant's `quantize` (== ggml_quantize_chunk). Looked up at call
 * time so the converter builds while the codec package lands; a missing codec is a clear error.
 */
import * as quant from "@moeq/quant";
import { GGMLType, GGML_TYPE_INFO, MoeqError } from "@moeq/formats";

export type QuantizeFn = (type: GGMLType, src: Float32Array, nrows: number, nPerRow: number, imatrix?: Float32Array) => Uint8Array;

export function quantizeRows(type: GGMLType, src: Float32Array, nrows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  const fn = (quant as unknown as Record<string, unknown>)["quantize"];
  if (typeof fn !== "function") {
    throw new MoeqError("NO_CODEC", `@moeq/quant has no quantize() yet; cannot produce ${GGML_TYPE_INFO[type].name}`);
  }
  return (fn as QuantizeFn)(type, src, nrows, nPerRow, imatrix);
}
