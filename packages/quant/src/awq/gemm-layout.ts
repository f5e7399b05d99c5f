/**
 * AutoAWQ "GEMM" checkpoint layout for 4-bit codes (awq/modules/linear/gemm.py `WQLinear_GEMM.from_linear`):
 *   qweight int32 [in, out/8]      codes packed along the OUTPUT dim: word (k, m) holds outputs 8m…8m+7 of input k,
 *                                  nibble i (bits 4i…4i+3) = output 8m + ORDER[i], ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
 *   qzeros  int32 [in/g, out/8]    zero points (actual values, no −1), same packing
 *   scales  fp16  [in/g, out]
 *   w[o, k] = (q[o, k] − z[o, k/g]) · s[k/g, o]
 */
import { f16ToF32, f32ToF16 } from "@moeq/formats";
import { QuantShapeError } from "../errors.js";

export const AWQ_PACK_ORDER = [0, 2, 4, 6, 1, 3, 5, 7] as const;

/** f32 → nearest fp16 → f32: how the stored scales round. */
export function roundToF16(x: number): number {
  return f16ToF32(f32ToF16(x));
}

/** Packs row-major [rows, cols] 4-bit values along rows (AWQ's output dim) into int32 [cols, rows / 8]. */
function packAlongRows(v: Uint8Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(cols * (rows / 8));
  for (let c = 0; c < cols; c++) {
    for (let m = 0; m < rows / 8; m++) {
      let word = 0;
      for (let i = 0; i < 8; i++) word |= (v[(8 * m + AWQ_PACK_ORDER[i]!) * cols + c]! & 0xf) << (4 * i);
      out[c * (rows / 8) + m] = word;
    }
  }
  return out;
}

export interface AwqGemmTensors {
  readonly qweight: Int32Array;
  readonly qzeros: Int32Array;
  /** fp16 bits, [in/g, out] */
  readonly scales: Uint16Array;
}

/** Codes [out, in], zeros and scales [out, in/g] (scales already fp16-exact) → the GEMM tensors. */
export function packAwqGemm(codes: Uint8Array, zeros: Uint8Array, scales: Float32Array, out: number, inF: number, groupSize: number): AwqGemmTensors {
  if (out % 8 !== 0) throw new QuantShapeError("AWQ_PACK", `AWQ GEMM packs 8 outputs per int32; ${out} outputs is not a multiple of 8`);
  const ng = inF / groupSize;
  const s16 = new Uint16Array(ng * out);
  for (let o = 0; o < out; o++) for (let k = 0; k < ng; k++) s16[k * out + o] = f32ToF16(scales[o * ng + k]!);
  return { qweight: packAlongRows(codes, out, inF), qzeros: packAlongRows(zeros, out, ng), scales: s16 };
}

/** The GEMM tensors → dequantized weight [out, in] in f32. */
export function unpackAwqGemm(qweight: Int32Array, qzeros: Int32Array, scales: Uint16Array, out: number, inF: number, groupSize: number): Float32Array {
  const words = out / 8;
  if (qweight.length !== inF * words || qzeros.length !== (inF / groupSize) * words || scales.length !== (inF / groupSize) * out) {
    throw new QuantShapeError("AWQ_PACK", `AWQ GEMM tensors do not fit a ${out}×${inF} weight with group size ${groupSize}`);
  }
  const w = new Float32Array(out * inF);
  const shift = new Int32Array(8); // output 8m + j sits in nibble REVERSE[j] = [0, 4, 1, 5, 2, 6, 3, 7][j]
  for (let j = 0; j < 8; j++) shift[j] = 4 * AWQ_PACK_ORDER.indexOf(j as 0);
  for (let k = 0; k < inF; k++) {
    const g = Math.floor(k / groupSize);
    for (let m = 0; m < words; m++) {
      const qw = qweight[k * words + m]!;
      const zw = qzeros[g * words + m]!;
      for (let j = 0; j < 8; j++) {
        const o = 8 * m + j;
        const q = (qw >>> shift[j]!) & 0xf;
        const z = (zw >>> shift[j]!) & 0xf;
        w[o * inF + k] = Math.fround((q - z) * f16ToF32(scales[g * out + o]!));
      }
    }
  }
  return w;
}
