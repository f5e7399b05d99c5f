/**
 * f32 rows → the bytes of one ggml type: F32 copy, F16 / BF16 rounding (bit-exact with ggml rows),
 * or a block quantization through @moeq/quant (== ggml_quantize_chunk). Pure: usable in worker threads.
 */
import { GGMLType, f32ToF16Row, f32ToBf16Row, f16ToF32Row } from "@moeq/formats";
import { dequantize, quantize } from "@moeq/quant";

export interface EncodeJob {
  readonly type: GGMLType;
  readonly data: Float32Array;
  readonly nrows: number;
  readonly nPerRow: number;
  /** This expert's imatrix slice (length nPerRow), when quantizing with one. */
  readonly imatrix?: Float32Array;
  /** Round through F16 first (what `convert f16` then `quantize` would see). */
  readonly viaF16?: boolean;
  /** Also return the squared error of the encoded rows against `data` (for --expert-errors). */
  readonly measureError?: boolean;
}

export interface EncodeResult {
  readonly bytes: Uint8Array;
  /** Σ (data − decode(bytes))² in f64, when the job asked for it. */
  readonly sumSquaredError?: number;
}

export function encodeRows(job: EncodeJob): Uint8Array {
  let data = job.data;
  if (job.viaF16 && job.type !== GGMLType.F16) data = f16ToF32Row(f32ToF16Row(data));
  switch (job.type) {
    case GGMLType.F32:
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    case GGMLType.F16: {
      const h = f32ToF16Row(data);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    case GGMLType.BF16: {
      const h = f32ToBf16Row(data);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    default:
      return quantize(job.type, data, job.nrows, job.nPerRow, job.imatrix);
  }
}

/** Σ (src[i] − decoded[i])² in f64, with `bytes` decoded by @moeq/quant's `dequantize` (== ggml's to_float). */
export function sumSquaredError(type: GGMLType, src: Float32Array, bytes: Uint8Array): number {
  const decoded = dequantize(type, bytes, src.length);
  let s = 0;
  for (let i = 0; i < src.length; i++) {
    const d = src[i] - decoded[i];
    s += d * d;
  }
  return s;
}

/** Encodes a job; with `measureError`, also the error of the result against the job's own (source) rows. */
export function encodeUnit(job: EncodeJob): EncodeResult {
  const bytes = encodeRows(job);
  if (!job.measureError) return { bytes };
  // F32 output aliases job.data; the error is exactly 0 then only without F16 rounding, so always measure.
  return { bytes, sumSquaredError: sumSquaredError(job.type, job.data, bytes) };
}
