/**
 * Causal (optionally chunked) grouped-query attention for a batch of new tokens against the KV cache, as two
 * matrix products per KV head: S = Q_g · K_gᵀ (all query heads of the group stacked), masked softmax, O = P · V_g.
 * Chunked masking: a query at position p sees keys k with k ≤ p and floor(k/chunk) == floor(p/chunk).
 */
import { matmul } from "./matmul.js";
import { f32Matrix } from "./weight-matrix.js";
import { roundToF16 } from "./half.js";

export interface AttentionShape {
  /** New tokens (their K/V are already in the cache at [start, start+n)). */
  readonly n: number;
  readonly start: number;
  readonly nh: number;
  readonly nkv: number;
  readonly hd: number;
  readonly chunk: number | null;
  /** Round softmax probabilities to f16 before the V product (llama.cpp's f16 KV path). */
  readonly roundProbs: boolean;
}

/** q: [n × nh·hd], kc/vc: cache [pos × nkv·hd], out: [n × nh·hd]. */
export function attendBatched(q: Float32Array, kc: Float32Array, vc: Float32Array, out: Float32Array, s: AttentionShape): void {
  const { n, start, nh, nkv, hd, chunk } = s;
  const qDim = nh * hd;
  const kvDim = nkv * hd;
  const group = nh / nkv;
  const L = start + n;
  // Keys before the first new token's chunk are never visible to any new token.
  const k0 = chunk ? Math.floor(start / chunk) * chunk : 0;
  const len = L - k0;
  const scale = 1 / Math.sqrt(hd);
  const rows = group * n;
  const qg = new Float32Array(rows * hd);
  const kg = new Float32Array(len * hd);
  const vgT = new Float32Array(hd * len);
  const scores = new Float32Array(rows * len);
  const og = new Float32Array(rows * hd);
  for (let g = 0; g < nkv; g++) {
    for (let j = 0; j < len; j++) {
      const src = (k0 + j) * kvDim + g * hd;
      kg.set(kc.subarray(src, src + hd), j * hd);
      for (let i = 0; i < hd; i++) vgT[i * len + j] = vc[src + i];
    }
    // row (h·n + t) = query head g·group + h at token t
    for (let h = 0; h < group; h++) {
      for (let t = 0; t < n; t++) {
        const src = t * qDim + (g * group + h) * hd;
        qg.set(q.subarray(src, src + hd), (h * n + t) * hd);
      }
    }
    matmul(f32Matrix(kg, len, hd), qg, rows, scores);
    for (let r = 0; r < rows; r++) {
      const pos = start + (r % n);
      const lo = (chunk ? Math.floor(pos / chunk) * chunk : 0) - k0;
      const hi = pos - k0; // inclusive
      const o = r * len;
      let max = -Infinity;
      for (let j = lo; j <= hi; j++) {
        const v = scores[o + j] * scale;
        scores[o + j] = v;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let j = lo; j <= hi; j++) {
        const e = Math.exp(scores[o + j] - max);
        scores[o + j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < lo; j++) scores[o + j] = 0;
      for (let j = lo; j <= hi; j++) scores[o + j] = s.roundProbs ? roundToF16(scores[o + j] * inv) : scores[o + j] * inv;
      for (let j = hi + 1; j < len; j++) scores[o + j] = 0;
    }
    matmul(f32Matrix(vgT, hd, len), scores, rows, og);
    for (let h = 0; h < group; h++) {
      for (let t = 0; t < n; t++) {
        out.set(og.subarray((h * n + t) * hd, (h * n + t + 1) * hd), t * qDim + (g * group + h) * hd);
      }
    }
  }
}
