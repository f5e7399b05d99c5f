/**
 * Bit-exact emulation of llama.cpp's x86 Q8_0 × Q8_0 matmul (the AVX2/AVX-512-VNNI builds): llamafile's
 * tinyBLAS_Q0_AVX for dense weights and `ggml_vec_dot_q8_0_q8_0` for expert weights compute each output the
 * same way — per 32-block, eight int32 lanes of four int8 products each (`dpbusd` / `maddubs`+`madd`), converted to
 * f32 and fused-multiply-added with fp16(d_w)·fp16(d_x) into eight f32 accumulators, then `hsum_float_8`
 * ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). Summing dequantized products in another order differs by an f32 ulp,
 * which the f16 rounding of Q/K and the next Q8 rounding amplify into visible logit differences.
 */
import { F16_TO_F32, GGMLType } from "@moeq/formats";
import type { WeightMatrix } from "./weight-matrix.js";
import { quantizeRowsQ8 } from "./q8-activations.js";

const f = Math.fround;
const QK = 32;
const BLOCK_BYTES = 34; // fp16 d + 32 × int8

/** y[t·rows + r] = ggml's Q8_0·Q8_0 dot of weight row r with activation row t (see the module comment). */
export function matmulQ8_0Exact(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void {
  if (w.type !== GGMLType.Q8_0) throw new Error(`matmulQ8_0Exact needs a Q8_0 weight, got type ${w.type}`);
  const { rows, cols } = w;
  const nb = cols / QK;
  const act = quantizeRowsQ8("q8_0", x, n, cols);
  const qx = act.q;
  const dx = act.d;
  const bytes = w.data;
  const wq = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dw = new Float32Array(nb);
  for (let r = 0; r < rows; r++) {
    const rowOff = r * w.rowBytes;
    for (let b = 0; b < nb; b++) {
      const o = rowOff + b * BLOCK_BYTES;
      dw[b] = F16_TO_F32[bytes[o] | (bytes[o + 1] << 8)];
    }
    for (let t = 0; t < n; t++) {
      // prettier-ignore
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
      const xo = t * cols;
      for (let b = 0; b < nb; b++) {
        const s = f(dw[b] * dx[t * nb + b]);
        const wo = rowOff + b * BLOCK_BYTES + 2;
        const bo = xo + b * QK;
        // fma(s, lane, acc): s·lane is exact in f64 (22-bit × 17-bit), one rounding to f32 after the add
        a0 = f(s * (wq[wo] * qx[bo] + wq[wo + 1] * qx[bo + 1] + wq[wo + 2] * qx[bo + 2] + wq[wo + 3] * qx[bo + 3]) + a0);
        a1 = f(s * (wq[wo + 4] * qx[bo + 4] + wq[wo + 5] * qx[bo + 5] + wq[wo + 6] * qx[bo + 6] + wq[wo + 7] * qx[bo + 7]) + a1);
        a2 = f(s * (wq[wo + 8] * qx[bo + 8] + wq[wo + 9] * qx[bo + 9] + wq[wo + 10] * qx[bo + 10] + wq[wo + 11] * qx[bo + 11]) + a2);
        a3 = f(s * (wq[wo + 12] * qx[bo + 12] + wq[wo + 13] * qx[bo + 13] + wq[wo + 14] * qx[bo + 14] + wq[wo + 15] * qx[bo + 15]) + a3);
        a4 = f(s * (wq[wo + 16] * qx[bo + 16] + wq[wo + 17] * qx[bo + 17] + wq[wo + 18] * qx[bo + 18] + wq[wo + 19] * qx[bo + 19]) + a4);
        a5 = f(s * (wq[wo + 20] * qx[bo + 20] + wq[wo + 21] * qx[bo + 21] + wq[wo + 22] * qx[bo + 22] + wq[wo + 23] * qx[bo + 23]) + a5);
        a6 = f(s * (wq[wo + 24] * qx[bo + 24] + wq[wo + 25] * qx[bo + 25] + wq[wo + 26] * qx[bo + 26] + wq[wo + 27] * qx[bo + 27]) + a6);
        a7 = f(s * (wq[wo + 28] * qx[bo + 28] + wq[wo + 29] * qx[bo + 29] + wq[wo + 30] * qx[bo + 30] + wq[wo + 31] * qx[bo + 31]) + a7);
      }
      // hsum_float_8: 128-bit halves added, then movehl, then movehdup
      const v0 = f(a0 + a4),
        v1 = f(a1 + a5),
        v2 = f(a2 + a6),
        v3 = f(a3 + a7);
      out[t * rows + r] = f(f(v0 + v2) + f(v1 + v3));
    }
  }
}
