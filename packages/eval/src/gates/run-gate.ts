import { existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { InputError } from "@moeq/formats";
import type { EvalModel } from "../model.js";
import { loadReferenceFile, type ReferenceFile } from "../references.js";
import { flatMetrics, flatStderrs, type EvalResults } from "../results.js";
import { ensureBaseLogits, runDocVqaTask, runKldTask, runMmluTask, runPplTask, type TaskProgress } from "../tasks.js";
import { METRIC_SOURCES, type GateFile, type GateMetric } from "./gate-file.js";
import { evaluateGates, type GateOutcome } from "./evaluate.js";

export interface GateRun {
  results: EvalResults;
  metrics: Partial<Record<GateMetric, number>>;
  references?: ReferenceFile;
  outcomes: GateOutcome[];
  passed: boolean;
}

export interface RunGateOptions {
  /** Opens the base model; needed for relative gates unless tasks.kld.baseLogits already exists. */
  openBase?: () => Promise<EvalModel>;
  /** Where to write the base `.kld` when the gate file names none (default: the OS temp dir). */
  baseLogitsOut?: string;
  onProgress?: TaskProgress;
}

/** Runs the tasks a gate file lists (only those its gates need), then evaluates every gate. */
export async function runGate(model: EvalModel, gate: GateFile, opts: RunGateOptions = {}): Promise<GateRun> {
  // References and base availability are checked before any slow work, so bad input fails fast (exit 2).
  const references = gate.references ? loadReferenceFile(gate.references) : undefined;
  const needed = new Set(gate.gates.map((g) => METRIC_SOURCES[g.metric].task));
  for (const task of needed) {
    const data = gate.tasks[task]?.data;
    if (data && !existsSync(data)) throw new InputError("DATA_NOT_FOUND", `tasks.${task}.data ${data} does not exist`, { file: gate.path });
  }
  if (needed.has("kld") && !opts.openBase && !(gate.tasks.kld?.baseLogits && existsSync(gate.tasks.kld.baseLogits))) {
    throw new InputError(
      "GATE_NEEDS_BASE",
      "gates on base-relative metrics (ppl_ratio, kld_*, same_top_p, …) need --base or an existing tasks.kld.baseLogits",
      { file: gate.path },
    );
  }
  const results: EvalResults = {};
  if (needed.has("kld")) {
    const spec = gate.tasks.kld!;
    const path = spec.baseLogits ?? opts.baseLogitsOut ?? join(tmpdir(), `moeq-base-${process.pid}.kld`);
    results.basePpl = await ensureBaseLogits(path, spec, opts.openBase, opts.onProgress);
    results.kld = await runKldTask(model, path, spec, opts.onProgress);
  }
  if (needed.has("ppl")) {
    if (!gate.tasks.ppl) throw new InputError("GATE_BAD_FILE", "a ppl gate needs tasks.ppl", { file: gate.path });
    results.ppl = await runPplTask(model, gate.tasks.ppl, opts.onProgress);
  }
  if (needed.has("mmlu")) results.mmlu = await runMmluTask(model, gate.tasks.mmlu!, opts.onProgress);
  if (needed.has("docvqa")) results.docvqa = await runDocVqaTask(model, gate.tasks.docvqa!, opts.onProgress);
  const metrics = flatMetrics(results);
  const outcomes = evaluateGates(gate.gates, metrics, references, gate.path, flatStderrs(results));
  return { results, metrics, references, outcomes, passed: outcomes.every((o) => o.pass) };
}
