/** The one place the converter calls @moeq/quant's `quantize` (== ggml_quantize_chunk). */
import { quantize } from "@moeq/quant";
import type { GGMLType } from "@moeq/formats";

export function quantizeRows(type: GGMLType, src: Float32Array, nrows: number, nPerRow: number, imatrix?: Float32Array): Uint8Array {
  return quantize(type, src, nrows, nPerRow, imatrix);
}
