/**
 * Solves one Linear of `moeq gptq`: GPTQ on its Hessian, or round-to-nearest on the same grid when it has too few
 * tokens (or no calibration), packed in the GPTQ v1 layout with its report entry. A pure function of its job, so
 * the worker threads of solve-pool.ts give the same bytes as solving inline.
 */
import type { GptqV1Tensors } from "@moeq/quant";
import { dequantizeLinear, gptqQuantize, hessianError, hessianOf, packGptqV1, rtnQuantize } from "@moeq/quant";

/** One Linear in gptq-report.json. */
export interface GptqLinearReport {
  readonly module: string;
  readonly method: "gptq" | "rtn" | "bf16";
  /** Calibration rows that reached it (routed tokens for an expert). */
  readonly tokens: number;
  /** ½ Σ (w−ŵ)ᵀH(w−ŵ) for GPTQ and for RTN on the same grid and H (null without a Hessian). */
  readonly gptqError: number | null;
  readonly rtnError: number | null;
  /** GPTQ's own accumulated loss Σ (w−q)²/d²/2. */
  readonly gptqLoss: number | null;
  readonly percDamp?: number;
  readonly dampIncreases?: number;
  readonly deadColumns?: number;
  readonly wrappedZeros?: number;
  /** Why it is not GPTQ. */
  readonly reason?: string;
}

export interface SolveSettings {
  readonly bits: number;
  readonly groupSize: number;
  readonly sym: boolean;
  readonly descAct: boolean;
  readonly staticGroups: boolean;
  readonly damp: number;
  readonly dampAutoIncrement: number;
}

export interface SolveJob {
  readonly module: string;
  /** Row-major [rows × cols] f32 weight. */
  readonly W: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** Lower triangle of Σ x·xᵀ over `n` rows (null: no rows reached it). */
  readonly sum: Float64Array | null;
  readonly n: number;
  /** Set: round-to-nearest, for this reason. */
  readonly rtnReason: string | null;
  readonly settings: SolveSettings;
}

export interface SolveResult {
  readonly entry: GptqLinearReport;
  readonly packed: GptqV1Tensors;
}

export function solveLinear(job: SolveJob): SolveResult {
  const { module, W, rows, cols, sum, n, rtnReason, settings } = job;
  const format = { bits: settings.bits, groupSize: settings.groupSize, sym: settings.sym };
  const rtn = rtnQuantize(W, rows, cols, format);
  const H = sum ? hessianOf({ cols, sum, n }) : null;
  if (rtnReason !== null || !H) {
    const packed = packGptqV1(rtn);
    const entry: GptqLinearReport = {
      module,
      method: "rtn",
      tokens: n,
      gptqError: null,
      rtnError: H ? hessianError(W, dequantizeLinear(rtn), H, rows, cols) : null,
      gptqLoss: null,
      wrappedZeros: packed.wrappedZeros,
      reason: rtnReason ?? "no calibration rows",
    };
    return { entry, packed };
  }
  const q = gptqQuantize(W, H, rows, cols, {
    ...format,
    actOrder: settings.descAct,
    staticGroups: settings.staticGroups,
    percDamp: settings.damp,
    dampAutoIncrement: settings.dampAutoIncrement,
  });
  const packed = packGptqV1(q);
  const entry: GptqLinearReport = {
    module,
    method: "gptq",
    tokens: n,
    gptqError: hessianError(W, dequantizeLinear(q), H, rows, cols),
    rtnError: hessianError(W, dequantizeLinear(rtn), H, rows, cols),
    gptqLoss: q.loss,
    percDamp: q.percDamp,
    dampIncreases: q.dampIncreases,
    deadColumns: q.deadColumns,
    wrappedZeros: packed.wrappedZeros,
  };
  return { entry, packed };
}
