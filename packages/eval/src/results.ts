import type { PerplexityResult } from "./metrics/perplexity.js";
import type { KldResult } from "./metrics/kld.js";
import type { MmluResult } from "./datasets/mmlu.js";
import type { DocVqaResult } from "./datasets/docvqa.js";
import type { GateMetric } from "./gates/gate-file.js";

/** Everything one `moeq eval` / `moeq gate` run measured. */
export interface EvalResults {
  ppl?: PerplexityResult;
  /** PPL of the base model, when the base `.kld` file was written in this run. */
  basePpl?: PerplexityResult;
  kld?: KldResult;
  mmlu?: MmluResult;
  docvqa?: DocVqaResult;
}

/** The flat metric table that gates compare against. */
export function flatMetrics(r: EvalResults): Partial<Record<GateMetric, number>> {
  const m: Partial<Record<GateMetric, number>> = {};
  if (r.ppl) m.ppl = r.ppl.ppl;
  if (r.kld) {
    m.ppl_ratio = r.kld.pplRatio.value;
    m.ln_ppl_ratio = r.kld.lnPplRatio.value;
    m.ppl_q = r.kld.pplQ.value;
    m.ppl_base = r.kld.pplBase.value;
    m.kld_mean = r.kld.kldMean.value;
    m.kld_median = r.kld.kld.median;
    m.kld_p99 = r.kld.kld.p99;
    m.kld_max = r.kld.kld.max;
    m.same_top_p = r.kld.sameTopP.value;
    m.rms_delta_p = r.kld.rmsDeltaP.value;
    m.mean_delta_p = r.kld.deltaPMean.value;
    if (m.ppl === undefined) m.ppl = r.kld.pplQ.value;
  }
  if (r.mmlu) m.mmlu_acc = r.mmlu.acc;
  if (r.docvqa) m.docvqa_anls = r.docvqa.anls;
  return m;
}

/** Standard errors of the metrics that have one (for gates with `sigma`). */
export function flatStderrs(r: EvalResults): Partial<Record<GateMetric, number>> {
  const m: Partial<Record<GateMetric, number>> = {};
  if (r.ppl) m.ppl = r.ppl.pplStderr;
  if (r.kld) {
    m.ppl_ratio = r.kld.pplRatio.stderr;
    m.ln_ppl_ratio = r.kld.lnPplRatio.stderr;
    m.ppl_q = r.kld.pplQ.stderr;
    m.ppl_base = r.kld.pplBase.stderr;
    m.kld_mean = r.kld.kldMean.stderr;
    m.same_top_p = r.kld.sameTopP.stderr;
    m.rms_delta_p = r.kld.rmsDeltaP.stderr;
    m.mean_delta_p = r.kld.deltaPMean.stderr;
    if (m.ppl === undefined) m.ppl = r.kld.pplQ.stderr;
  }
  if (r.mmlu) m.mmlu_acc = r.mmlu.accStderr;
  if (r.docvqa) m.docvqa_anls = r.docvqa.anlsStderr;
  return m;
}
