// The report is data: built once from the results, then rendered to JSON, Markdown and HTML.
import type { EvalResults } from "../results.js";
import type { GateOutcome } from "../gates/evaluate.js";
import type { GateMetric } from "../gates/gate-file.js";

/** One quantization of the same model, for the quality-vs-size plot. */
export interface QuantPoint {
  /** e.g. "Q4_K_M". */
  label: string;
  sizeBytes: number;
  ppl?: number;
  kldMean?: number;
  sameTopP?: number;
}

/** Per-expert quantization error, as the converter reports it. */
export interface ExpertError {
  layer: number;
  expert: number;
  /** e.g. "ffn_down_exps". */
  tensor: string;
  rmse: number;
}

/** Tokens (rows) routed to each expert of one MoE layer while an importance matrix was collected. */
export interface ExpertTokens {
  layer: number;
  tokens: number[];
}

export interface EvalReport {
  schema: 1;
  model: string;
  base?: string;
  engine: string;
  createdAt: string;
  gateFile?: string;
  results: EvalResults;
  metrics: Partial<Record<GateMetric, number>>;
  gates?: GateOutcome[];
  passed?: boolean;
  quantSweep?: QuantPoint[];
  expertErrors?: ExpertError[];
  /** From the imatrix the model was quantized with (`moeq gate --imatrix`): tokens per expert per layer. */
  expertTokens?: ExpertTokens[];
}

/** Drops per-item arrays (kept in JSON only when asked) so reports stay small. */
export function compactResults(r: EvalResults, keepItems = false): EvalResults {
  if (keepItems) return r;
  const out: EvalResults = { ...r };
  if (out.mmlu) out.mmlu = { ...out.mmlu, items: [] };
  if (out.docvqa) out.docvqa = { ...out.docvqa, items: out.docvqa.items.slice(0, 50) };
  return out;
}
