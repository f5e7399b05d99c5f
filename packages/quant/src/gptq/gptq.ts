/**
 * GPTQ (Frantar et al., arXiv 2210.17323, Algorithm 1) for one Linear, following IST-DASLab gptq.py
 * `GPTQ.fasterquant(blocksize, percdamp, groupsize, actorder, static_groups)` step by step, with the paper's names:
 * W the weight, H the Hessian 2XXᵀ/n, Hinv the upper Cholesky factor of H⁻¹, Err1 a block's scaled errors.
 * The weight is held transposed (WT [cols × rows]) so the column-at-a-time loop reads contiguous memory. WT, Hinv and
 * the block errors live in a WebAssembly workspace (../kernels/gptq-wasm.ts) whose SIMD kernels do the two
 * error-propagation products and the factorizations; ../kernels/block-update.ts and ../kernels/cholesky.ts are their
 * TypeScript references.
 * Additions to fasterquant: the damping rises by `dampAutoIncrement` when a Cholesky fails (GPTQModel's
 * `damp_auto_increment`) and the caller is told; codes, scales, zeros and g_idx are returned for packing.
 */
import { GptqHessianError } from "../errors.js";
import type { GptqWorkspace } from "../kernels/gptq-wasm.js";
import { createGptqWorkspace } from "../kernels/gptq-wasm.js";
import type { GptqFormat, GroupParams } from "./quantizer.js";
import { findParams, maxq, quantizeCode, transposeToF64 } from "./quantizer.js";
import type { QuantizedLinear } from "./result.js";
import { groupCount } from "./result.js";

export interface GptqOptions extends GptqFormat {
  /** Columns per lazy-update block (default 128). */
  readonly blockSize?: number;
  /** λ: H += λ·mean(diag H)·I (default 0.01). */
  readonly percDamp?: number;
  /** Added to λ after each failed Cholesky, until λ ≥ 1 (default 0.01). */
  readonly dampAutoIncrement?: number;
  /** desc_act: quantize columns in decreasing diag(H) order. */
  readonly actOrder?: boolean;
  /** Group scales from the un-updated W in original column order (g_idx stays j // groupSize). */
  readonly staticGroups?: boolean;
}

export interface GptqResult extends QuantizedLinear {
  /** Σ over columns of (w − q)²/d² / 2, per output row (GPTQ's own loss). */
  readonly losses: Float64Array;
  readonly loss: number;
  /** The λ that factorized (percDamp, or higher after automatic increases). */
  readonly percDamp: number;
  /** How many times λ was raised. */
  readonly dampIncreases: number;
  /** Input columns with diag(H) == 0 (set to 0 in W). */
  readonly deadColumns: number;
}

/**
 * Upper Cholesky factor of (H + λ·mean(diag H)·I)⁻¹, raising λ while a factorization fails. The factor is
 * `ws.Hinv` (by default a workspace of its own).
 */
export function inverseHessianFactor(
  H: Float64Array,
  n: number,
  percDamp: number,
  increment: number,
  ws: GptqWorkspace = createGptqWorkspace(0, n, 0),
): { Hinv: Float64Array; percDamp: number; increases: number } {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i];
  mean /= n;
  for (let lambda = percDamp, increases = 0; lambda < 1 || increases === 0; lambda += increment, increases++) {
    // torch.linalg.cholesky(H) → torch.cholesky_inverse → torch.linalg.cholesky(upper=True), in two steps
    if (ws.factorInverse(H, lambda * mean)) return { Hinv: ws.Hinv, percDamp: lambda, increases };
  }
  throw new GptqHessianError("GPTQ_NOT_PD", `Hessian [${n}×${n}] is not positive definite even with damping ≥ 1; more calibration data is needed`);
}

/** GPTQ of W [rows × cols] (row-major f32) against H [cols × cols]. Neither input is modified. */
export function gptqQuantize(W: Float32Array, Hin: Float64Array, rows: number, cols: number, opts: GptqOptions): GptqResult {
  const blockSize = opts.blockSize ?? 128;
  const groupSize = opts.groupSize;
  const mq = maxq(opts.bits);
  const ws = createGptqWorkspace(rows, cols, blockSize);
  const WT = transposeToF64(W, rows, cols, ws.WT);
  const H = Float64Array.from(Hin);

  let whole: GroupParams | null = groupSize === -1 ? findParams(WT, rows, 0, cols, opts) : null;

  // Dead columns: an input never non-zero carries no information; H[j,j] = 1, W[:, j] = 0.
  let deadColumns = 0;
  for (let j = 0; j < cols; j++) {
    if (H[j * cols + j] !== 0) continue;
    deadColumns++;
    H[j * cols + j] = 1;
    WT.fill(0, j * rows, (j + 1) * rows);
  }

  const staticGroups: GroupParams[] = [];
  if (opts.staticGroups && groupSize !== -1) {
    for (let c = 0; c < cols; c += groupSize) staticGroups.push(findParams(WT, rows, c, Math.min(c + groupSize, cols), opts));
  }

  // Activation order: columns by decreasing diag(H) (stable), W and H permuted alike.
  const perm = Int32Array.from({ length: cols }, (_, j) => j);
  if (opts.actOrder) {
    const diag = Float64Array.from({ length: cols }, (_, j) => H[j * cols + j]);
    perm.sort((a, b) => diag[b] - diag[a] || a - b);
    permuteInPlace(WT, H, perm, rows, cols);
  }

  const inv = inverseHessianFactor(H, cols, opts.percDamp ?? 0.01, opts.dampAutoIncrement ?? 0.01, ws);
  const Hinv = inv.Hinv;

  const codesT = new Uint8Array(rows * cols); // [cols × rows], written a column at a time; transposed at the end
  const nGroups = groupCount(cols, groupSize);
  const scales = new Float64Array(nGroups * rows);
  const zeros = new Int32Array(nGroups * rows);
  const gIdx = new Int32Array(cols);
  const losses = new Float64Array(rows);
  const err1 = ws.err;
  const Err1 = ws.Err;

  const blockGroups = new Map<number, GroupParams>();
  for (let i1 = 0; i1 < cols; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, cols);
    // Groups starting in this block take their parameters from W as lazily updated up to the block's start
    // (fasterquant calls find_params on W, not on the in-block copy W1; GPTQModel does the same).
    blockGroups.clear();
    if (groupSize !== -1 && !opts.staticGroups) {
      for (let s = Math.ceil(i1 / groupSize) * groupSize; s < i2; s += groupSize)
        blockGroups.set(s, findParams(WT, rows, s, Math.min(s + groupSize, cols), opts));
    }
    for (let i = i1; i < i2; i++) {
      // Group parameters: fresh at each group start, or the static ones.
      let params: GroupParams;
      let group: number;
      if (groupSize === -1) {
        params = whole as GroupParams;
        group = 0;
      } else if (opts.staticGroups) {
        group = Math.floor(perm[i] / groupSize);
        params = staticGroups[group];
      } else {
        group = Math.floor(i / groupSize);
        if (i % groupSize === 0) {
          whole = blockGroups.get(i) as GroupParams;
          scales.set(whole.scale, group * rows);
          zeros.set(whole.zero, group * rows);
        }
        params = whole as GroupParams;
      }
      gIdx[perm[i]] = group;

      const d = Hinv[i * cols + i];
      const col = i * rows;
      const out = perm[i];
      for (let r = 0; r < rows; r++) {
        const w = WT[col + r];
        const s = params.scale[r];
        const z = params.zero[r];
        const code = quantizeCode(w, s, z, mq);
        codesT[out * rows + r] = code;
        const q = s * (code - z);
        losses[r] += ((w - q) * (w - q)) / (d * d) / 2;
        err1[r] = (w - q) / d;
      }
      ws.subtractRankOne(i, i + 1, i2); // W1[:, i:] −= err1 ⊗ Hinv1[i, i:]
      Err1.set(err1, (i - i1) * rows);
    }
    ws.subtractBlockErrors(i1, i2); // W[:, i2:] −= Err1 · Hinv[i1:i2, i2:]
  }

  if (groupSize === -1 || opts.staticGroups) {
    const groups = groupSize === -1 ? [whole as GroupParams] : staticGroups;
    groups.forEach((g, k) => {
      scales.set(g.scale, k * rows);
      zeros.set(g.zero, k * rows);
    });
  }
  if (opts.staticGroups && groupSize !== -1) for (let c = 0; c < cols; c++) gIdx[c] = Math.floor(c / groupSize);

  const codes = new Uint8Array(rows * cols);
  for (let r0 = 0; r0 < rows; r0 += 32)
    for (let c = 0; c < cols; c++) for (let r = r0; r < Math.min(r0 + 32, rows); r++) codes[r * cols + c] = codesT[c * rows + r];

  let loss = 0;
  for (const l of losses) loss += l;
  return {
    rows,
    cols,
    bits: opts.bits,
    groupSize,
    sym: opts.sym,
    codes,
    scales,
    zeros,
    gIdx,
    losses,
    loss,
    percDamp: inv.percDamp,
    dampIncreases: inv.increases,
    deadColumns,
  };
}

/** WT ← WT[perm] (columns of W), H ← H[perm][:, perm]. */
function permuteInPlace(WT: Float64Array, H: Float64Array, perm: Int32Array, rows: number, cols: number): void {
  const w = Float64Array.from(WT);
  const h = Float64Array.from(H);
  for (let j = 0; j < cols; j++) {
    WT.set(w.subarray(perm[j] * rows, (perm[j] + 1) * rows), j * rows);
    for (let k = 0; k < cols; k++) H[j * cols + k] = h[perm[j] * cols + perm[k]];
  }
}
