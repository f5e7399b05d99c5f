/**
 * AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization", arXiv 2306.00978) as AutoAWQ implements it
 * (awq/quantize/quantizer.py: `pseudo_quantize_tensor`, `_search_best_scale` / `_compute_best_scale`,
 * `_compute_best_clip`), in float32 throughout (AutoAWQ runs the search in fp16 on a GPU):
 *
 *   group quantizer (per output row, groups of `groupSize` inputs), with zero point:
 *     scale = max(max − min, 1e-5) / (2^bits − 1);  zero = clamp(−round(min / scale), 0, 2^bits − 1)
 *     q = clamp(round(w / scale) + zero, 0, 2^bits − 1);  w' = (q − zero) · scale
 *   without:  scale = max(|w|max, 1e-5) / (2^(bits−1) − 1);  q = clamp(round(w / scale), −2^(bits−1), 2^(bits−1) − 1)
 *   (round = half to even, as torch.round)
 *
 *   scale search over one smoothing group (linears sharing one input X): for ratio α = i / 20, i = 0…19,
 *     s = max(x̄^α / (w̄^(1−α) + 1e-4), 1e-4),  s ← s / √(max s · min s)   ("duo scaling")
 *   with x̄ = mean |X| per input channel and w̄ = mean over output rows of |W| / (group abs-max + 1e-6);
 *   loss(α) = Σ over linears ‖X Wᵀ − X (Q(W·diag s)·diag s⁻¹)ᵀ‖² / (number of outputs); the first smallest wins.
 *
 *   clip search per linear (inputs already divided by s, weights multiplied): per output row and group try
 *   max = amax · (1 − i/20), i = 0…9, clamp W to ±max, quantize, and keep the max with the smallest mean
 *   squared output error over (a stride sample of ≤ 512) tokens.
 * Pure functions on Float32Array rows; each linear brings its own input rows (routed experts see only their tokens).
 */
import { QuantShapeError } from "../errors.js";
import { roundHalfEven } from "../gptq/quantizer.js";

export interface AwqQuantOptions {
  /** Bits per weight (AutoAWQ GEMM and vLLM: 4). */
  readonly bits: number;
  /** Inputs per scale group (128); must divide the input width. */
  readonly groupSize: number;
  /** Asymmetric groups with a zero point (AutoAWQ default) or symmetric ones. */
  readonly zeroPoint: boolean;
}

/** One linear of a smoothing group: weight [rows, cols] and the input rows it sees, [nTokens, cols]. */
export interface AwqLinear {
  readonly w: Float32Array;
  readonly rows: number;
  readonly x: Float32Array;
  readonly nTokens: number;
}

const f = Math.fround;
const F32_1E5 = f(1e-5);
const F32_1E4 = f(1e-4);
const F32_1E6 = f(1e-6);
export const AWQ_N_GRID = 20;

export function checkAwqShape(rows: number, cols: number, o: AwqQuantOptions): void {
  if (!(o.bits >= 2 && o.bits <= 8 && Number.isInteger(o.bits))) throw new QuantShapeError("AWQ_BITS", `AWQ bits must be 2…8, got ${o.bits}`);
  if (!(Number.isInteger(o.groupSize) && o.groupSize > 0) || cols % o.groupSize !== 0) {
    throw new QuantShapeError("AWQ_GROUP", `group size ${o.groupSize} does not divide the ${cols} inputs of a ${rows}×${cols} weight`);
  }
}

export interface AwqGroups {
  /** Dequantized weight, [rows, cols]. */
  readonly deq: Float32Array;
  /** Unsigned codes 0…2^bits−1, [rows, cols] (symmetric: q + 2^(bits−1)). */
  readonly codes: Uint8Array;
  /** [rows, cols / groupSize] */
  readonly scales: Float32Array;
  /** Zero points in code units, [rows, cols / groupSize] (symmetric: 2^(bits−1)). */
  readonly zeros: Uint8Array;
}

/**
 * Group-wise quantization of a [rows, cols] weight (pseudo_quantize_tensor). `roundScale` rounds each scale
 * before the codes are computed (the writer passes f32→f16 so the stored scales reproduce w' exactly).
 */
export function awqQuantizeGroups(w: Float32Array, rows: number, cols: number, o: AwqQuantOptions, roundScale: (s: number) => number = (s) => s): AwqGroups {
  checkAwqShape(rows, cols, o);
  const g = o.groupSize;
  const ng = cols / g;
  const deq = new Float32Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * ng);
  const zeros = new Uint8Array(rows * ng);
  const maxInt = o.zeroPoint ? 2 ** o.bits - 1 : 2 ** (o.bits - 1) - 1;
  const minInt = o.zeroPoint ? 0 : -(2 ** (o.bits - 1));
  const offset = o.zeroPoint ? 0 : 2 ** (o.bits - 1);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < ng; k++) {
      const base = r * cols + k * g;
      let mx = -Infinity;
      let mn = Infinity;
      for (let i = base; i < base + g; i++) {
        const v = w[i]!;
        if (v > mx) mx = v;
        if (v < mn) mn = v;
      }
      let scale: number;
      let zero = 0;
      if (o.zeroPoint) {
        const range = f(mx - mn);
        scale = roundScale(f((range < F32_1E5 ? F32_1E5 : range) / maxInt));
        zero = Math.min(maxInt, Math.max(0, -roundHalfEven(f(mn / scale))));
      } else {
        const amax = Math.max(Math.abs(mx), Math.abs(mn));
        scale = roundScale(f((amax < F32_1E5 ? F32_1E5 : amax) / maxInt));
      }
      scales[r * ng + k] = scale;
      zeros[r * ng + k] = zero + offset;
      for (let i = base; i < base + g; i++) {
        const q = Math.min(maxInt, Math.max(minInt, roundHalfEven(f(w[i]! / scale)) + zero));
        codes[i] = q + offset;
        deq[i] = f((q - zero) * scale);
      }
    }
  }
  return { deq, codes, scales, zeros };
}

/** Σ over rows of (X Dᵀ)², D [rows, cols], X [n, cols]: the squared output error of a weight difference. */
function outputSquaredError(x: Float32Array, n: number, d: Float32Array, rows: number, cols: number): number {
  let s = 0;
  for (let t = 0; t < n; t++) {
    const xo = t * cols;
    for (let r = 0; r < rows; r++) {
      const wo = r * cols;
      let acc = 0;
      for (let c = 0; c < cols; c++) acc += x[xo + c]! * d[wo + c]!;
      s += acc * acc;
    }
  }
  return s;
}

/** mean |X| per input channel. */
export function awqInputMean(x: Float32Array, nTokens: number, cols: number): Float32Array {
  const sum = new Float64Array(cols);
  for (let t = 0; t < nTokens; t++) for (let c = 0; c < cols; c++) sum[c] += Math.abs(x[t * cols + c]!);
  return Float32Array.from(sum, (v) => v / nTokens);
}

/** Mean over all rows of all weights of |w| / (its group's abs-max + 1e-6), per input channel. */
export function awqWeightMean(ws: readonly { w: Float32Array; rows: number }[], cols: number, groupSize: number): Float32Array {
  const sum = new Float64Array(cols);
  let n = 0;
  for (const { w, rows } of ws) {
    awqWeightSum(w, rows, cols, groupSize, sum);
    n += rows;
  }
  return Float32Array.from(sum, (v) => v / n);
}

/** Adds Σ_rows |w| / (group max |w| + 1e-6) per column into `sum` (awqWeightMean's numerator). */
function awqWeightSum(w: Float32Array, rows: number, cols: number, groupSize: number, sum: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k += groupSize) {
      let amax = 0;
      for (let c = k; c < k + groupSize; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]!));
      const denom = f(amax + F32_1E6);
      for (let c = k; c < k + groupSize; c++) sum[c] += f(Math.abs(w[r * cols + c]!) / denom);
    }
  }
}

/** The candidate scales of ratio α (duo scaling, normalised, non-finite → 1). */
export function awqScalesForRatio(xMean: Float32Array, wMean: Float32Array, ratio: number): Float32Array {
  const s = new Float32Array(xMean.length);
  let mx = -Infinity;
  let mn = Infinity;
  for (let c = 0; c < s.length; c++) {
    const v = f(f(Math.pow(xMean[c]!, ratio)) / f(f(Math.pow(wMean[c]!, f(1 - ratio))) + F32_1E4));
    s[c] = v < F32_1E4 ? F32_1E4 : v;
    if (s[c]! > mx) mx = s[c]!;
    if (s[c]! < mn) mn = s[c]!;
  }
  const norm = f(Math.sqrt(f(mx * mn)));
  for (let c = 0; c < s.length; c++) {
    const v = f(s[c]! / norm);
    s[c] = Number.isFinite(v) ? v : 1;
  }
  return s;
}

export interface AwqScaleSearch {
  /** The chosen ratio α (i / 20). */
  readonly ratio: number;
  /** Per input channel: multiply the balance weights' columns, divide the smoothing op's output. */
  readonly scales: Float32Array;
  /** loss(α) for every grid point. */
  readonly losses: number[];
}

/**
 * Searches the shared input-channel scale of a smoothing group. `xMean` is the per-channel mean |x| of the
 * group's input (all tokens the smoothing op produced); each linear brings the rows it consumes.
 */
export function awqSearchScale(linears: readonly AwqLinear[], xMean: Float32Array, o: AwqQuantOptions): AwqScaleSearch {
  const search = new AwqScaleSearchStream(xMean, o);
  for (const l of linears) search.addWeights(l);
  for (const l of linears) search.addLosses(l);
  return search.result();
}

/**
 * `awqSearchScale` with the linears presented one at a time (so a group of 128 experts never needs all their
 * weights at once), in two passes over the same linears in the same order: `addWeights` for the weight means,
 * then `addLosses` for every grid point's output error. Sums run in the same order, so the result is the same.
 */
export class AwqScaleSearchStream {
  private readonly cols: number;
  private readonly wSum: Float64Array;
  private wRows = 0;
  /** The candidate scales per grid point, fixed by the first `addLosses`. */
  private candidates: Float32Array[] | null = null;
  private readonly losses: number[] = new Array<number>(AWQ_N_GRID).fill(0);
  private outputs = 0;

  constructor(
    private readonly xMean: Float32Array,
    private readonly o: AwqQuantOptions,
  ) {
    this.cols = xMean.length;
    this.wSum = new Float64Array(this.cols);
  }

  private check(l: AwqLinear): void {
    checkAwqShape(l.rows, this.cols, this.o);
    if (l.w.length !== l.rows * this.cols || l.x.length !== l.nTokens * this.cols)
      throw new QuantShapeError("AWQ_SHAPE", `linear of ${l.rows}×${this.cols} has ${l.w.length} weights and ${l.x.length / this.cols} input rows`);
  }

  /** Pass 1: the linear's share of the mean normalised |w| per column (awqWeightMean). */
  addWeights(l: AwqLinear): void {
    if (this.candidates) throw new Error("AwqScaleSearchStream: addWeights after addLosses");
    this.check(l);
    awqWeightSum(l.w, l.rows, this.cols, this.o.groupSize, this.wSum);
    this.wRows += l.rows;
  }

  /** Pass 2: the linear's output error at every grid point. */
  addLosses(l: AwqLinear): void {
    this.check(l);
    const cols = this.cols;
    if (!this.candidates) {
      const wMean = Float32Array.from(this.wSum, (v) => v / this.wRows);
      this.candidates = Array.from({ length: AWQ_N_GRID }, (_, i) => awqScalesForRatio(this.xMean, wMean, f(i / AWQ_N_GRID)));
    }
    this.outputs += l.nTokens * l.rows;
    this.candidates.forEach((s, i) => {
      const scaled = new Float32Array(l.w.length);
      for (let j = 0; j < scaled.length; j++) scaled[j] = f(l.w[j]! * s[j % cols]!);
      const q = awqQuantizeGroups(scaled, l.rows, cols, this.o).deq;
      for (let j = 0; j < q.length; j++) q[j] = f(l.w[j]! - f(q[j]! / s[j % cols]!));
      this.losses[i] += outputSquaredError(l.x, l.nTokens, q, l.rows, cols);
    });
  }

  result(): AwqScaleSearch {
    if (!this.candidates) throw new Error("AwqScaleSearchStream: no linear was added");
    const losses = this.losses.map((v) => v / this.outputs);
    let best = -1;
    for (let i = 0; i < AWQ_N_GRID; i++) if (best < 0 || losses[i]! < losses[best]!) best = i;
    return { ratio: f(best / AWQ_N_GRID), scales: this.candidates[best]!, losses };
  }
}

export interface AwqClipOptions extends AwqQuantOptions {
  /** Most tokens used (a stride sample), AutoAWQ n_sample_token = 512. */
  readonly sampleTokens?: number;
}

/** Best clipping threshold per output row and group, [rows, cols / groupSize]. */
export function awqSearchClip(l: AwqLinear, cols: number, o: AwqClipOptions): Float32Array {
  checkAwqShape(l.rows, cols, o);
  const g = o.groupSize;
  const ng = cols / g;
  const step = Math.max(1, Math.floor(l.nTokens / (o.sampleTokens ?? 512)));
  const tokens: number[] = [];
  for (let t = 0; t < l.nTokens; t += step) tokens.push(t);
  const best = new Float32Array(l.rows * ng);
  const group = new Float32Array(g);
  const orgOut = new Float64Array(tokens.length);
  for (let r = 0; r < l.rows; r++) {
    for (let k = 0; k < ng; k++) {
      const base = r * cols + k * g;
      let amax = 0;
      for (let c = 0; c < g; c++) amax = Math.max(amax, Math.abs(l.w[base + c]!));
      tokens.forEach((t, j) => {
        let acc = 0;
        for (let c = 0; c < g; c++) acc += l.x[t * cols + k * g + c]! * l.w[base + c]!;
        orgOut[j] = acc;
      });
      let bestErr = 1e9;
      let bestMax = amax;
      for (let i = 0; i < AWQ_N_GRID / 2; i++) {
        const maxVal = f(amax * f(1 - i / AWQ_N_GRID)); // torch: f32 tensor × (1 − i/20) as a float32 scalar
        for (let c = 0; c < g; c++) group[c] = Math.min(maxVal, Math.max(-maxVal, l.w[base + c]!));
        const q = awqQuantizeGroups(group, 1, g, o).deq;
        let err = 0;
        tokens.forEach((t, j) => {
          let acc = 0;
          for (let c = 0; c < g; c++) acc += l.x[t * cols + k * g + c]! * q[c]!;
          err += (acc - orgOut[j]!) ** 2;
        });
        err /= tokens.length;
        if (err < bestErr) {
          bestErr = err;
          bestMax = maxVal;
        }
      }
      best[r * ng + k] = bestMax;
    }
  }
  return best;
}

/** Clamps each group of `w` (in place) to ±its threshold from `awqSearchClip`. */
export function awqApplyClip(w: Float32Array, rows: number, cols: number, maxVal: Float32Array, groupSize: number): void {
  const ng = cols / groupSize;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const m = maxVal[r * ng + Math.floor(c / groupSize)]!;
      const i = r * cols + c;
      w[i] = Math.min(m, Math.max(-m, w[i]!));
    }
  }
}
