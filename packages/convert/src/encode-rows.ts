/**
 * f32 rows → the bytes of one ggml type: F32 copy, F16 / BF16 rounding (bit-exact with ggml rows),
 * or a block quantization through @moeq/quant (== ggml_quantize_chunk). Pure: usable in worker threads.
 */
import { GGMLType, f32ToF16Row, f32ToBf16Row, f16ToF32Row } from "@moeq/formats";
import { quantizeRows } from "./internal/quant-adapter.js";

export interface EncodeJob {
  readonly type: GGMLType;
  readonly data: Float32Array;
  readonly nrows: number;
  readonly nPerRow: number;
  /** This expert's imatrix slice (length nPerRow), when quantizing with one. */
  readonly imatrix?: Float32Array;
  /** Round through F16 first (what `convert f16` then `quantize` would see). */
  readonly viaF16?: boolean;
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
      return quantizeRows(job.type, data, job.nrows, job.nPerRow, job.imatrix);
  }
}
