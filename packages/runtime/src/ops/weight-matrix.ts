/**
 * A 2-D weight as the kernels see it: `rows` output rows of `cols` inputs each, stored row-major in its ggml type
 * (F32, F16, BF16 or any block-quantized type). Quantized weights stay quantized in memory; kernels decode one
 * row at a time into a scratch buffer.
 */
import { GGMLType, GGML_TYPE_INFO, ggmlRowBytes, InputError } from "@moeq/formats";
import type { Fp8ActivationScheme } from "@moeq/quant";
import { dequantizeRow } from "./dequant-adapter.js";

export interface WeightMatrix {
  readonly type: GGMLType;
  /** Input features (ggml ne0). */
  readonly cols: number;
  /** Output features (ggml ne1). */
  readonly rows: number;
  /** Encoded rows, `rows × rowBytes` bytes. */
  readonly data: Uint8Array;
  readonly rowBytes: number;
  /** Float view of `data` for F32 weights (aligned copy when needed). */
  readonly f32: Float32Array | null;
  /** FP8 checkpoints: the activation quantization applied to the input before this weight's matmul. */
  readonly activations?: Fp8ActivationScheme;
}

export function makeWeightMatrix(type: GGMLType, cols: number, rows: number, data: Uint8Array): WeightMatrix {
  const rowBytes = ggmlRowBytes(type, cols);
  if (data.byteLength < rowBytes * rows) {
    throw new InputError("WEIGHT_SHORT", `weight of ${rows}×${cols} ${GGML_TYPE_INFO[type].name} needs ${rowBytes * rows} bytes, got ${data.byteLength}`);
  }
  let f32: Float32Array | null = null;
  if (type === GGMLType.F32) {
    if (data.byteOffset % 4 !== 0) data = data.slice(0, rowBytes * rows);
    f32 = new Float32Array(data.buffer, data.byteOffset, rows * cols);
  }
  return { type, cols, rows, data, rowBytes, f32 };
}

/** Wraps an f32 array [rows × cols] as a weight. */
export function f32Matrix(values: Float32Array, rows: number, cols: number): WeightMatrix {
  return makeWeightMatrix(GGMLType.F32, cols, rows, new Uint8Array(values.buffer, values.byteOffset, rows * cols * 4));
}

/** Decodes row `r` into `dst[0..cols)`. */
export function decodeRow(m: WeightMatrix, r: number, dst: Float32Array): void {
  if (m.f32) {
    dst.set(m.f32.subarray(r * m.cols, (r + 1) * m.cols));
    return;
  }
  dequantizeRow(m.type, m.data, r * m.rowBytes, m.cols, dst);
}
