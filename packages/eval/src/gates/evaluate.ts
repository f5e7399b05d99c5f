// Gates are a table; evaluating them is a pure function of the measured metrics and the reference numbers.
import { InputError } from "@moeq/formats";
import type { ReferenceFile } from "../references.js";
import type { Gate, GateMetric } from "./gate-file.js";

export interface GateOutcome {
  metric: GateMetric;
  op: Gate["op"];
  threshold: number;
  actual: number;
  pass: boolean;
  /** "absolute", "base" (relative metric) or "reference <model>:<metric> − δ"; "… , 2σ" with a sigma allowance. */
  basis: string;
  /** Standard error of `actual`, when the gate used one. */
  stderr?: number;
}

const RELATIVE: ReadonlySet<string> = new Set([
  "ppl_ratio",
  "ln_ppl_ratio",
  "kld_mean",
  "kld_median",
  "kld_p99",
  "kld_max",
  "same_top_p",
  "rms_delta_p",
  "mean_delta_p",
]);

function compare(actual: number, op: Gate["op"], threshold: number): boolean {
  switch (op) {
    case "<=":
      return actual <= threshold;
    case ">=":
      return actual >= threshold;
    case "<":
      return actual < threshold;
    case ">":
      return actual > threshold;
  }
}

export function evaluateGates(
  gates: readonly Gate[],
  metrics: Partial<Record<GateMetric, number>>,
  refs?: ReferenceFile,
  file?: string,
  stderrs: Partial<Record<GateMetric, number>> = {},
): GateOutcome[] {
  return gates.map((g) => {
    const actual = metrics[g.metric];
    if (actual === undefined) throw new InputError("GATE_METRIC_MISSING", `gate on ${g.metric}: the metric was not measured`, { file });
    let threshold: number;
    let basis: string;
    if (g.reference !== undefined) {
      const ref = refs?.metrics[g.reference];
      if (!ref)
        throw new InputError("GATE_REF_MISSING", `gate on ${g.metric}: reference "${g.reference}" not found in ${refs?.model ?? "(no references loaded)"}`, {
          file,
        });
      const delta = g.delta ?? 0;
      const lower = g.op === ">=" || g.op === ">";
      threshold = lower ? ref.value - delta : ref.value + delta;
      basis = `reference ${refs?.model}:${g.reference} ${lower ? "−" : "+"} ${delta}`;
    } else {
      threshold = g.threshold as number;
      basis = RELATIVE.has(g.metric) ? "base" : "absolute";
    }
    if (g.sigma) {
      const se = stderrs[g.metric];
      if (se === undefined) throw new InputError("GATE_NO_STDERR", `gate on ${g.metric} uses sigma, but no standard error was measured`, { file });
      // Give the measurement the benefit of the doubt: move it `sigma` standard errors toward passing.
      const lenient = g.op === "<=" || g.op === "<" ? actual - g.sigma * se : actual + g.sigma * se;
      const pass = Number.isFinite(actual) && compare(lenient, g.op, threshold);
      return { metric: g.metric, op: g.op, threshold, actual, pass, basis: `${basis}, ${g.sigma}σ`, stderr: se };
    }
    return { metric: g.metric, op: g.op, threshold, actual, pass: Number.isFinite(actual) && compare(actual, g.op, threshold), basis };
  });
}
