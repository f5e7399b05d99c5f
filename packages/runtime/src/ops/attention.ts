/**
 * Causal (optionally chunked) grouped-query attention for a batch of new tokens against the KV cache, as two
 * matrix products per KV head and block of queries: S = Q_g · K_gᵀ (the group's query heads stacked), masked
 * softmax, O = P · V_g. Queries are processed in blocks so the score matrix stays small for long prompts, and each
 * block only reads the keys it can see.
 * Chunked masking: a query at position p sees keys k with k ≤ p and floor(k/chunk) == floor(p/chunk).
 */
import { matmul } from "./matmul.js";
import { f32Matrix } from "./weight-matrix.js";
import { roundRowToF16, roundToF16 } from "./half.js";
import { ScratchPool } from "./scratch.js";
import { ggmlExpf, ggmlExpfRow, reduceAdd16, reduceAdd16At } from "./ggml-attention-math.js";
import { wasmHost, type WasmHost } from "./wasm-host.js";

export interface AttentionShape {
  /** New tokens (their K/V are already in the cache at [start, start+n)). */
  readonly n: number;
  readonly start: number;
  readonly nh: number;
  readonly nkv: number;
  readonly hd: number;
  readonly chunk: number | null;
  /**
   * llama.cpp's f16 KV path: ggml's soft_max (f32 scale, `ggml_v_expf`, 16-cell chunk sums, × (float)(1/sum)) with
   * the probabilities rounded to f16 before the V product; the K·Q and V·P dots stay 4-lane gemms.
   */
  readonly roundProbs: boolean;
  /** Compute in llama.cpp's exact f32 order (tinyBLAS F16 dots, ggml soft_max); implies f16 operands. */
  readonly ggmlOrder?: boolean;
  /** Threads the WASM softmax may split its rows over (default 1; the kernel workers must be running). */
  readonly threads?: number;
}

/** Queries per block: bounds the score matrix to group · QUERY_BLOCK · keys floats. */
const QUERY_BLOCK = 128;

/** q: [n × nh·hd], kc/vc: cache [pos × nkv·hd], out: [n × nh·hd]. */
export function attendBatched(q: Float32Array, kc: Float32Array, vc: Float32Array, out: Float32Array, s: AttentionShape): void {
  if (s.ggmlOrder) {
    attendGgml(q, kc, vc, out, s);
    return;
  }
  const host = s.hd % 4 === 0 ? wasmHost() : null;
  for (let t0 = 0; t0 < s.n; t0 += QUERY_BLOCK) {
    const t1 = Math.min(s.n, t0 + QUERY_BLOCK);
    if (host) attendBlockWasm(host, q, kc, vc, out, s, t0, t1);
    else attendBlock(q, kc, vc, out, s, t0, t1);
  }
}

/**
 * llama.cpp's non-flash attention on the CPU in its exact f32 order (Q, K, V already f16-rounded): K·Q as
 * tinyBLAS F16 dots (16 lanes over the head dim), soft_max_ext (scale, max, `ggml_v_expf`, per-16-cell chunk sums
 * added in double, × (float)(1/sum)), probabilities rounded to f16, then V·P as tinyBLAS F16 dots whose lanes run
 * over the KV cells (cell index mod 16). One query row at a time; slow; only for ggmlNumerics "exact".
 */
function attendGgml(q: Float32Array, kc: Float32Array, vc: Float32Array, out: Float32Array, s: AttentionShape): void {
  const f = Math.fround;
  const { n, start, nh, nkv, hd, chunk } = s;
  const qDim = nh * hd;
  const kvDim = nkv * hd;
  const group = nh / nkv;
  const scale = f(1 / Math.sqrt(hd));
  const maxLen = start + n;
  const wp = new Float32Array(maxLen);
  const p = new Float32Array(maxLen);
  const lanes = new Float64Array(16);
  const acc = new Float64Array(16 * hd);
  for (let t = 0; t < n; t++) {
    const pos = start + t;
    const lo = chunk ? Math.floor(pos / chunk) * chunk : 0;
    for (let h = 0; h < nh; h++) {
      const qo = t * qDim + h * hd;
      const g = Math.floor(h / group);
      let max = -Infinity;
      for (let j = lo; j <= pos; j++) {
        const ko = j * kvDim + g * hd;
        lanes.fill(0);
        for (let i = 0; i < hd; i++) lanes[i & 15] = f(kc[ko + i] * q[qo + i] + lanes[i & 15]);
        const v = f(reduceAdd16(lanes) * scale);
        wp[j] = v;
        if (v > max) max = v;
      }
      // ggml_vec_soft_max_f32: chunks of 16 cells from cell 0, masked cells contribute exp(-inf) = 0
      let sum = 0;
      for (let c0 = lo - (lo & 15); c0 <= pos; c0 += 16) {
        lanes.fill(0);
        for (let j = Math.max(c0, lo); j < Math.min(c0 + 16, pos + 1); j++) {
          const e = ggmlExpf(f(wp[j] - max));
          p[j] = e;
          lanes[j - c0] = e;
        }
        sum += reduceAdd16(lanes);
      }
      const inv = f(1 / sum);
      for (let j = lo; j <= pos; j++) p[j] = roundToF16(f(p[j] * inv));
      // V·P: for each output dim, 16 lanes over cells (cell mod 16), fused multiply-add in cell order
      acc.fill(0);
      for (let j = lo; j <= pos; j++) {
        const pj = p[j];
        if (pj === 0) continue; // fma(0, v, acc) == acc
        const vo = j * kvDim + g * hd;
        const li = (j & 15) * hd;
        for (let i = 0; i < hd; i++) acc[li + i] = f(vc[vo + i] * pj + acc[li + i]);
      }
      const oo = t * qDim + h * hd;
      for (let i = 0; i < hd; i++) {
        for (let l = 0; l < 16; l++) lanes[l] = acc[l * hd + i];
        out[oo + i] = reduceAdd16(lanes);
      }
    }
  }
}

/** Reused buffers of attendBlock (the forward pass is synchronous). */
const blockScratch = new ScratchPool();
/** The 16 softmax lanes of a partial chunk (reused: the forward pass is synchronous). */
const softmaxLanes = new Float64Array(16);

/**
 * One block of queries through `matmul` (transposed V copy; the fallback without WASM, and the reference
 * `attendBlockWasm` is tested against).
 */
export function attendBlock(q: Float32Array, kc: Float32Array, vc: Float32Array, out: Float32Array, s: AttentionShape, t0: number, t1: number): void {
  const { start, nh, nkv, hd, chunk } = s;
  const qDim = nh * hd;
  const kvDim = nkv * hd;
  const group = nh / nkv;
  const nb = t1 - t0;
  // Keys visible to some query of the block: from the first query's chunk start to the last query.
  const k0 = chunk ? Math.floor((start + t0) / chunk) * chunk : 0;
  const len = start + t1 - k0;
  // Keys padded with zero rows to a multiple of 4, so that V·P (whose rows are `lenP` long) runs the WASM gemm
  // too; the padding's probabilities are 0 and add exact zeros.
  const lenP = (len + 3) & ~3;
  const lanes = new Float64Array(16);
  const rows = group * nb;
  const qg = blockScratch.get("qg", rows * hd);
  const kg = blockScratch.get("kg", lenP * hd).fill(0, len * hd);
  const vgT = blockScratch.get("vgT", hd * lenP);
  const scores = blockScratch.get("scores", rows * lenP);
  const og = blockScratch.get("og", rows * hd);
  for (let g = 0; g < nkv; g++) {
    for (let j = 0; j < len; j++) {
      const src = (k0 + j) * kvDim + g * hd;
      kg.set(kc.subarray(src, src + hd), j * hd);
      for (let i = 0; i < hd; i++) vgT[i * lenP + j] = vc[src + i];
    }
    for (let i = 0; i < hd; i++) for (let j = len; j < lenP; j++) vgT[i * lenP + j] = 0;
    // row (h·nb + i) = query head g·group + h at token t0 + i
    for (let h = 0; h < group; h++) {
      for (let i = 0; i < nb; i++) {
        const src = (t0 + i) * qDim + (g * group + h) * hd;
        qg.set(q.subarray(src, src + hd), (h * nb + i) * hd);
      }
    }
    matmul(f32Matrix(kg, lenP, hd), qg, rows, scores);
    for (let r = 0; r < rows; r++) softmaxRow(scores, r * lenP, lenP, start + t0 + (r % nb), k0, s, lanes);
    matmul(f32Matrix(vgT, hd, lenP), scores, rows, og);
    for (let h = 0; h < group; h++) {
      for (let i = 0; i < nb; i++) {
        out.set(og.subarray((h * nb + i) * hd, (h * nb + i + 1) * hd), (t0 + i) * qDim + (g * group + h) * hd);
      }
    }
  }
}

/**
 * Scales, masks and softmaxes one score row in place (stored at `o`, `lenP` cells for absolute keys k0…): the query
 * at `pos` sees keys from its chunk start to itself; every other cell becomes 0. With `roundProbs`, ggml's f32
 * scale, exponentials and sums, and f16-rounded probabilities unless `roundLater` (the caller rounds the block).
 */
export function softmaxRow(
  scores: Float32Array,
  o: number,
  lenP: number,
  pos: number,
  k0: number,
  s: AttentionShape,
  lanes: Float64Array,
  roundLater = false,
): void {
  const lo = (s.chunk ? Math.floor(pos / s.chunk) * s.chunk : 0) - k0;
  const hi = pos - k0; // inclusive
  if (s.roundProbs) {
    softmaxRowGgml(scores, o, lo, hi, k0, Math.fround(1 / Math.sqrt(s.hd)), lanes);
    if (!roundLater) roundRowToF16(scores.subarray(o + lo, o + hi + 1));
  } else {
    const scale = 1 / Math.sqrt(s.hd);
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
    for (let j = lo; j <= hi; j++) scores[o + j] *= inv;
  }
  scores.fill(0, o, o + lo);
  scores.fill(0, o + hi + 1, o + lenP);
}

/**
 * ggml's soft_max of cells lo..hi of the row at `o` (absolute cell k0 + j), in place: x·scale in f32, the max,
 * `ggml_vec_soft_max_f32`'s exponentials and sum (`softmaxExpGgml`), × (float)(1/sum) in f32. Cells outside lo..hi
 * are left as they are.
 */
function softmaxRowGgml(scores: Float32Array, o: number, lo: number, hi: number, k0: number, fScale: number, lanes: Float64Array): void {
  const f = Math.fround;
  let max = -Infinity;
  for (let j = o + lo; j <= o + hi; j++) {
    const v = f(scores[j] * fScale);
    scores[j] = v;
    if (v > max) max = v;
  }
  const inv = f(1 / softmaxExpGgml(scores, o, lo, hi, k0, max, lanes));
  for (let j = o + lo; j <= o + hi; j++) scores[j] *= inv; // the f32 store rounds the product
}

/**
 * `attendBlock` on the WASM kernels with K and V read in their cache layout: the block's K rows, V rows and queries
 * are copied into the kernel memory once (contiguous), K·Q runs the strided gemm per query head and V·P `gemmVP`
 * (no transposed V copy); the sums are the same as `attendBlock`'s, bit for bit.
 */
function attendBlockWasm(
  host: WasmHost,
  q: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  out: Float32Array,
  s: AttentionShape,
  t0: number,
  t1: number,
): void {
  const { start, nh, nkv, hd, chunk } = s;
  const qDim = nh * hd;
  const kvDim = nkv * hd;
  const group = nh / nkv;
  const nb = t1 - t0;
  const k0 = chunk ? Math.floor((start + t0) / chunk) * chunk : 0;
  const len = start + t1 - k0;
  const lenP = (len + 3) & ~3;
  const rows = group * nb;
  // a cache that lives in the kernel memory (KvCache with a host) is read in place, any other is copied in
  const inPlace = inKernelMemory(host, kc) && inKernelMemory(host, vc);
  const kOff = inPlace ? kc.byteOffset + k0 * kvDim * 4 : host.block("attn-k", len * kvDim * 4);
  const vOff = inPlace ? vc.byteOffset + k0 * kvDim * 4 : host.block("attn-v", len * kvDim * 4);
  const qOff = host.block("attn-q", nb * qDim * 4);
  const sOff = host.block("attn-scores", rows * lenP * 4);
  const oOff = host.block("attn-out", nb * qDim * 4);
  const mem = host.f32();
  if (!inPlace) {
    mem.set(kc.subarray(k0 * kvDim, (k0 + len) * kvDim), kOff / 4);
    mem.set(vc.subarray(k0 * kvDim, (k0 + len) * kvDim), vOff / 4);
  }
  mem.set(q.subarray(t0 * qDim, t1 * qDim), qOff / 4);
  const scores = mem.subarray(sOff / 4, sOff / 4 + rows * lenP);
  const lanes = softmaxLanes;
  for (let g = 0; g < nkv; g++) {
    // row (h·nb + i) = query head g·group + h at token t0 + i
    for (let h = 0; h < group; h++)
      host.gemmStrided(kOff + g * hd * 4, kvDim, qOff + (g * group + h) * hd * 4, qDim, sOff + h * nb * lenP * 4, len, hd, nb, lenP);
    if (s.roundProbs) {
      // ggml's softmax in the kernels (the bits of softmaxRow), then the f16 rounding; masked cells are zeros
      host.softmaxRowsGgml(sOff, rows, lenP, nb, start + t0, k0, chunk ?? 0, Math.fround(1 / Math.sqrt(hd)), s.threads ?? 1);
      host.roundF16(sOff, rows * lenP);
    } else for (let r = 0; r < rows; r++) softmaxRow(scores, r * lenP, lenP, start + t0 + (r % nb), k0, s, lanes, true);
    for (let h = 0; h < group; h++) host.gemmVP(vOff + g * hd * 4, kvDim, sOff + h * nb * lenP * 4, lenP, oOff + (g * group + h) * hd * 4, qDim, hd, len, nb);
  }
  out.set(mem.subarray(oOff / 4, oOff / 4 + nb * qDim), t0 * qDim);
}

/** Whether `a` is a view into the host's memory (its byteOffset is then a kernel pointer). */
function inKernelMemory(host: WasmHost, a: Float32Array): boolean {
  return host.holds(new Uint8Array(a.buffer, a.byteOffset, 0));
}

/**
 * ggml_vec_soft_max_f32's exponentials and sum for one score row (cells lo..hi, stored at row offset o, absolute cell
 * k0 + j): e = ggml_v_expf(x − max) in f32, summed in chunks of 16 cells counted from cell 0, each chunk reduced as
 * ggml's 16 lanes and added in double. Leaves e in the row and returns the sum.
 */
function softmaxExpGgml(scores: Float32Array, o: number, lo: number, hi: number, k0: number, max: number, lanes: Float64Array): number {
  ggmlExpfRow(scores, o + lo, o + hi + 1, max);
  let sum = 0;
  const a = k0 + lo;
  const end = k0 + hi + 1;
  for (let c0 = a - (a & 15); c0 < end; c0 += 16) {
    if (c0 >= a && c0 + 16 <= end) {
      sum += reduceAdd16At(scores, o + c0 - k0); // a whole chunk: its cells are the 16 lanes
      continue;
    }
    lanes.fill(0);
    for (let c = Math.max(c0, a); c < Math.min(c0 + 16, end); c++) lanes[c - c0] = scores[o + c - k0];
    sum += reduceAdd16(lanes);
  }
  return sum;
}
