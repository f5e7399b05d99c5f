/**
 * Bit-exact emulation of llama.cpp's x86 AVX2 `ggml_vec_dot_q{2,3,4,6}_K_q8_K` (the kernels
 * libggml-cpu runs for k-quant weights when extra buffer types are off). Activations are quantized with
 * quantize_row_q8_K (int8 + f32 scale + per-16 sums). Per 256-superblock the integer products land in eight int32
 * lanes — lane k holds the elements whose index mod 32 is in [4k, 4k+4) (`maddubs` + `madd` by the broadcast
 * sub-block scale) — which are converted to f32 and fused-multiply-added with d = y.d · fp16(x.d) into eight f32
 * accumulators; the result is `hsum_float_8`. Q4_K adds its mins through four more lanes (sub-blocks 2k, 2k+1,
 * `dmin = −y.d · fp16(x.dmin)`), reduced (m0+m2)+(m1+m3) and added last; Q2_K fma's its mins (16 per superblock,
 * two per lane) into the same eight accumulators before the scales; Q6_K subtracts 32·Σ scale·bsum per lane.
 */
import { F16_TO_F32, GGMLType } from "@moeq/formats";
import type { WeightMatrix } from "./weight-matrix.js";
import { quantizeRowsQ8 } from "./q8-activations.js";

const f = Math.fround;
const QK_K = 256;

/** One weight row decoded to integers: sc·q per element, and per superblock d, dmin and the 8/16 correction factors. */
interface IntRow {
  readonly sq: Int32Array;
  readonly d: Float32Array;
  readonly dmin: Float32Array;
  /** Q4_K: 8 mins per superblock; Q6_K: 16 scales per superblock. */
  readonly corr: Int32Array;
}

function decodeQ4_K(data: Uint8Array, off: number, nb: number, row: IntRow): void {
  for (let i = 0; i < nb; i++) {
    const o = off + i * 144;
    row.d[i] = F16_TO_F32[data[o] | (data[o + 1] << 8)];
    row.dmin[i] = F16_TO_F32[data[o + 2] | (data[o + 3] << 8)];
    const s = o + 4;
    const sc = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) {
      let scale: number, min: number;
      if (j < 4) {
        scale = data[s + j] & 63;
        min = data[s + j + 4] & 63;
      } else {
        scale = (data[s + j + 4] & 0xf) | ((data[s + j - 4] >> 6) << 4);
        min = (data[s + j + 4] >> 4) | ((data[s + j] >> 6) << 4);
      }
      sc[j] = scale;
      row.corr[i * 8 + j] = min;
    }
    const qs = o + 16;
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) {
        const b = data[qs + j * 32 + l];
        row.sq[i * QK_K + j * 64 + l] = sc[2 * j] * (b & 0xf);
        row.sq[i * QK_K + j * 64 + 32 + l] = sc[2 * j + 1] * (b >> 4);
      }
    }
  }
}

function decodeQ6_K(data: Uint8Array, off: number, nb: number, row: IntRow): void {
  for (let i = 0; i < nb; i++) {
    const o = off + i * 210;
    const ql = o;
    const qh = o + 128;
    const scOff = o + 192;
    row.d[i] = F16_TO_F32[data[o + 208] | (data[o + 209] << 8)];
    for (let j = 0; j < 16; j++) row.corr[i * 16 + j] = (data[scOff + j] << 24) >> 24;
    for (let half = 0; half < 2; half++) {
      for (let l = 0; l < 32; l++) {
        const h = data[qh + half * 32 + l];
        const a = data[ql + half * 64 + l];
        const b = data[ql + half * 64 + 32 + l];
        const e = i * QK_K + half * 128 + l;
        const sc = (k: number) => row.corr[i * 16 + Math.floor((half * 128 + k) / 16)];
        row.sq[e] = sc(l) * ((a & 0xf) | ((h & 3) << 4));
        row.sq[e + 32] = sc(l + 32) * ((b & 0xf) | (((h >> 2) & 3) << 4));
        row.sq[e + 64] = sc(l + 64) * ((a >> 4) | (((h >> 4) & 3) << 4));
        row.sq[e + 96] = sc(l + 96) * ((b >> 4) | (((h >> 6) & 3) << 4));
      }
    }
  }
}

/** Q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin. `corr` gets the 16 mins. */
function decodeQ2_K(data: Uint8Array, off: number, nb: number, row: IntRow): void {
  for (let i = 0; i < nb; i++) {
    const o = off + i * 84;
    row.d[i] = F16_TO_F32[data[o + 80] | (data[o + 81] << 8)];
    row.dmin[i] = F16_TO_F32[data[o + 82] | (data[o + 83] << 8)];
    for (let j = 0; j < 16; j++) row.corr[i * 16 + j] = data[o + j] >> 4;
    for (let chunk = 0; chunk < 2; chunk++) {
      for (let j = 0; j < 4; j++) {
        for (let l = 0; l < 32; l++) {
          const e = chunk * 128 + j * 32 + l;
          const sc = data[o + (e >> 4)] & 0xf;
          row.sq[i * QK_K + e] = sc * ((data[o + 16 + chunk * 32 + l] >> (2 * j)) & 3);
        }
      }
    }
  }
}

/** Q3_K: hmask[32], qs[64], 12 bytes of 6-bit scales (−32), d; q = low2 − (high bit clear ? 4 : 0). */
function decodeQ3_K(data: Uint8Array, off: number, nb: number, row: IntRow): void {
  const sc = new Int32Array(16);
  for (let i = 0; i < nb; i++) {
    const o = off + i * 110;
    const hm = o;
    const qs = o + 32;
    const s = o + 96;
    row.d[i] = F16_TO_F32[data[o + 108] | (data[o + 109] << 8)];
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? data[s + j] & 0xf : data[s + j - 8] >> 4;
      const high = (data[s + 8 + (j & 3)] >> (2 * (j >> 2))) & 3;
      sc[j] = (low | (high << 4)) - 32;
    }
    for (let chunk = 0; chunk < 2; chunk++) {
      for (let j = 0; j < 4; j++) {
        const m = 1 << (chunk * 4 + j);
        for (let l = 0; l < 32; l++) {
          const e = chunk * 128 + j * 32 + l;
          const q = ((data[qs + chunk * 32 + l] >> (2 * j)) & 3) - (data[hm + l] & m ? 0 : 4);
          row.sq[i * QK_K + e] = sc[e >> 4] * q;
        }
      }
    }
  }
}

const BLOCK_BYTES: Partial<Record<GGMLType, number>> = { [GGMLType.Q2_K]: 84, [GGMLType.Q3_K]: 110, [GGMLType.Q4_K]: 144, [GGMLType.Q6_K]: 210 };

/** Whether `matmulKQuantExact` emulates this weight type. */
export function hasExactKQuantDot(type: GGMLType): boolean {
  return BLOCK_BYTES[type] !== undefined;
}

/** y[t·rows + r] = ggml's vec_dot of weight row r (Q2_K / Q3_K / Q4_K / Q6_K) with Q8_K-quantized activation row t. */
export function matmulKQuantExact(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): void {
  const { rows, cols, type } = w;
  if (!hasExactKQuantDot(type) || cols % QK_K !== 0) throw new Error(`matmulKQuantExact: unsupported ${GGMLType[type]} ${cols}`);
  const nb = cols / QK_K;
  const act = quantizeRowsQ8("q8_K", x, n, cols);
  const q8 = act.q;
  const row: IntRow = { sq: new Int32Array(cols), d: new Float32Array(nb), dmin: new Float32Array(nb), corr: new Int32Array(nb * 16) };
  const isQ4 = type === GGMLType.Q4_K;
  const isQ2 = type === GGMLType.Q2_K;
  const isQ6 = type === GGMLType.Q6_K;
  const lane = new Float64Array(8);
  for (let r = 0; r < rows; r++) {
    if (isQ4) decodeQ4_K(w.data, r * w.rowBytes, nb, row);
    else if (isQ2) decodeQ2_K(w.data, r * w.rowBytes, nb, row);
    else if (isQ6) decodeQ6_K(w.data, r * w.rowBytes, nb, row);
    else decodeQ3_K(w.data, r * w.rowBytes, nb, row);
    const sq = row.sq;
    for (let t = 0; t < n; t++) {
      // prettier-ignore
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
      // prettier-ignore
      let m0 = 0, m1 = 0, m2 = 0, m3 = 0;
      for (let i = 0; i < nb; i++) {
        const yd = act.d[t * nb + i];
        const d = f(yd * row.d[i]);
        const xo = t * cols + i * QK_K;
        const wo = i * QK_K;
        // eight int32 lanes; lane k takes elements 32g + 4k .. 32g + 4k + 3 of every 32-group g (exact in f64)
        let l0 = 0,
          l1 = 0,
          l2 = 0,
          l3 = 0,
          l4 = 0,
          l5 = 0,
          l6 = 0,
          l7 = 0;
        for (let g = 0; g < 8; g++) {
          const x = xo + g * 32;
          const w = wo + g * 32;
          l0 += sq[w] * q8[x] + sq[w + 1] * q8[x + 1] + sq[w + 2] * q8[x + 2] + sq[w + 3] * q8[x + 3];
          l1 += sq[w + 4] * q8[x + 4] + sq[w + 5] * q8[x + 5] + sq[w + 6] * q8[x + 6] + sq[w + 7] * q8[x + 7];
          l2 += sq[w + 8] * q8[x + 8] + sq[w + 9] * q8[x + 9] + sq[w + 10] * q8[x + 10] + sq[w + 11] * q8[x + 11];
          l3 += sq[w + 12] * q8[x + 12] + sq[w + 13] * q8[x + 13] + sq[w + 14] * q8[x + 14] + sq[w + 15] * q8[x + 15];
          l4 += sq[w + 16] * q8[x + 16] + sq[w + 17] * q8[x + 17] + sq[w + 18] * q8[x + 18] + sq[w + 19] * q8[x + 19];
          l5 += sq[w + 20] * q8[x + 20] + sq[w + 21] * q8[x + 21] + sq[w + 22] * q8[x + 22] + sq[w + 23] * q8[x + 23];
          l6 += sq[w + 24] * q8[x + 24] + sq[w + 25] * q8[x + 25] + sq[w + 26] * q8[x + 26] + sq[w + 27] * q8[x + 27];
          l7 += sq[w + 28] * q8[x + 28] + sq[w + 29] * q8[x + 29] + sq[w + 30] * q8[x + 30] + sq[w + 31] * q8[x + 31];
        }
        lane[0] = l0;
        lane[1] = l1;
        lane[2] = l2;
        lane[3] = l3;
        lane[4] = l4;
        lane[5] = l5;
        lane[6] = l6;
        lane[7] = l7;
        const bs = (t * cols + i * QK_K) / 16;
        if (isQ4) {
          const dmin = f(-yd * row.dmin[i]);
          const mn = row.corr;
          const S = (s: number) => act.sums[bs + 2 * s] + act.sums[bs + 2 * s + 1];
          m0 = f(dmin * (mn[i * 8] * S(0) + mn[i * 8 + 1] * S(1)) + m0);
          m1 = f(dmin * (mn[i * 8 + 2] * S(2) + mn[i * 8 + 3] * S(3)) + m1);
          m2 = f(dmin * (mn[i * 8 + 4] * S(4) + mn[i * 8 + 5] * S(5)) + m2);
          m3 = f(dmin * (mn[i * 8 + 6] * S(6) + mn[i * 8 + 7] * S(7)) + m3);
        } else if (isQ2) {
          // the mins go into the same eight accumulators first: lane k = min[2k]·bsum[2k] + min[2k+1]·bsum[2k+1]
          const dmin = f(-yd * row.dmin[i]);
          const mn = row.corr;
          const b = act.sums;
          a0 = f(dmin * (mn[i * 16] * b[bs] + mn[i * 16 + 1] * b[bs + 1]) + a0);
          a1 = f(dmin * (mn[i * 16 + 2] * b[bs + 2] + mn[i * 16 + 3] * b[bs + 3]) + a1);
          a2 = f(dmin * (mn[i * 16 + 4] * b[bs + 4] + mn[i * 16 + 5] * b[bs + 5]) + a2);
          a3 = f(dmin * (mn[i * 16 + 6] * b[bs + 6] + mn[i * 16 + 7] * b[bs + 7]) + a3);
          a4 = f(dmin * (mn[i * 16 + 8] * b[bs + 8] + mn[i * 16 + 9] * b[bs + 9]) + a4);
          a5 = f(dmin * (mn[i * 16 + 10] * b[bs + 10] + mn[i * 16 + 11] * b[bs + 11]) + a5);
          a6 = f(dmin * (mn[i * 16 + 12] * b[bs + 12] + mn[i * 16 + 13] * b[bs + 13]) + a6);
          a7 = f(dmin * (mn[i * 16 + 14] * b[bs + 14] + mn[i * 16 + 15] * b[bs + 15]) + a7);
        } else if (isQ6) {
          const sc = row.corr;
          for (let k = 0; k < 8; k++) lane[k] -= 32 * (sc[i * 16 + 2 * k] * act.sums[bs + 2 * k] + sc[i * 16 + 2 * k + 1] * act.sums[bs + 2 * k + 1]);
        }
        // _mm256_cvtepi32_ps rounds each lane to f32, then one fused multiply-add per lane
        a0 = f(d * f(lane[0]) + a0);
        a1 = f(d * f(lane[1]) + a1);
        a2 = f(d * f(lane[2]) + a2);
        a3 = f(d * f(lane[3]) + a3);
        a4 = f(d * f(lane[4]) + a4);
        a5 = f(d * f(lane[5]) + a5);
        a6 = f(d * f(lane[6]) + a6);
        a7 = f(d * f(lane[7]) + a7);
      }
      const v0 = f(a0 + a4),
        v1 = f(a1 + a5),
        v2 = f(a2 + a6),
        v3 = f(a3 + a7);
      let s = f(f(v0 + v2) + f(v1 + v3));
      if (isQ4) s = f(s + f(f(m0 + m2) + f(m1 + m3)));
      out[t * rows + r] = s;
    }
  }
}
