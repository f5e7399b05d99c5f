// A gate file (YAML or JSON) says what to measure and which thresholds the numbers must meet:
//
//   version: 1
//   tasks:                      # paths are relative to the gate file
//     ppl:    { data: wiki.test.txt, ctx: 512, chunks: 16 }
//     kld:    { data: wiki.test.txt, ctx: 512, chunks: 16, baseLogits: base.kld }   # needs --base or baseLogits
//     mmlu:   { data: mmlu/all/test-00000-of-00001.parquet, k: 5, limit: 10, seed: 1 }
//     docvqa: { data: docvqa/validation-00000-of-00001.parquet, limit: 50 }
//   references: llama-4-scout-17b-16e          # shipped name or path
//   gates:
//     - { metric: ppl, op: "<=", threshold: 12 }                    # absolute
//     - { metric: ppl_ratio, op: "<=", threshold: 1.05 }            # relative to the base model
//     - { metric: kld_mean, op: "<=", threshold: 0.05 }
//     - { metric: same_top_p, op: ">=", threshold: 0.9 }
//     - { metric: mmlu_acc, op: ">=", reference: mmlu_acc, delta: 0.02 }   # acc ≥ ref − δ
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { InputError } from "@moeq/formats";

export type GateOp = "<=" | ">=" | "<" | ">";
export const GATE_OPS: readonly GateOp[] = ["<=", ">=", "<", ">"];

/** Which task produces a metric, and whether it needs the base model. */
export const METRIC_SOURCES = {
  ppl: { task: "ppl", needsBase: false },
  ppl_ratio: { task: "kld", needsBase: true },
  ln_ppl_ratio: { task: "kld", needsBase: true },
  ppl_q: { task: "kld", needsBase: true },
  ppl_base: { task: "kld", needsBase: true },
  kld_mean: { task: "kld", needsBase: true },
  kld_median: { task: "kld", needsBase: true },
  kld_p99: { task: "kld", needsBase: true },
  kld_max: { task: "kld", needsBase: true },
  same_top_p: { task: "kld", needsBase: true },
  rms_delta_p: { task: "kld", needsBase: true },
  mean_delta_p: { task: "kld", needsBase: true },
  mmlu_acc: { task: "mmlu", needsBase: false },
  docvqa_anls: { task: "docvqa", needsBase: false },
} as const;
export type GateMetric = keyof typeof METRIC_SOURCES;
/** Metrics reported with a standard error (usable with `sigma`). */
export const HAS_STDERR: ReadonlySet<GateMetric> = new Set<GateMetric>([
  "ppl",
  "ppl_ratio",
  "ln_ppl_ratio",
  "ppl_q",
  "ppl_base",
  "kld_mean",
  "same_top_p",
  "rms_delta_p",
  "mean_delta_p",
  "mmlu_acc",
  "docvqa_anls",
]);
export type TaskName = "ppl" | "kld" | "mmlu" | "docvqa";

export interface Gate {
  metric: GateMetric;
  op: GateOp;
  /** Absolute threshold. */
  threshold?: number;
  /** Reference metric name: threshold = ref − delta for >= / >, ref + delta for <= / <. */
  reference?: string;
  delta?: number;
  /**
   * Fail only when the threshold is crossed by more than `sigma` standard errors of the measurement
   * (e.g. 2: "fail if ratio − 2σ > 1.05"), so a gate does not flap on statistical noise.
   */
  sigma?: number;
}

export interface PplTaskSpec {
  data: string;
  ctx?: number;
  chunks?: number;
}
export interface KldTaskSpec extends Partial<PplTaskSpec> {
  /** A llama.cpp `.kld` file of the base model; written from --base when missing. */
  baseLogits?: string;
}
export interface MmluTaskSpec {
  data: string;
  fewshotData?: string;
  k?: number;
  limit?: number;
  subjects?: string[];
  seed?: number;
}
export interface DocVqaTaskSpec {
  data: string;
  limit?: number;
  seed?: number;
}

export interface GateFile {
  path: string;
  name: string;
  tasks: { ppl?: PplTaskSpec; kld?: KldTaskSpec; mmlu?: MmluTaskSpec; docvqa?: DocVqaTaskSpec };
  references?: string;
  gates: Gate[];
}

function bad(file: string, msg: string): never {
  throw new InputError("GATE_BAD_FILE", msg, { file });
}

function optNumber(v: unknown, where: string, file: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    bad(file, `${where} must be ${integer ? "an integer" : "a number"}, got ${JSON.stringify(v)}`);
  return v;
}

function dataPath(v: unknown, where: string, file: string, required: boolean): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || !v) bad(file, `${where} must be a file path`);
  return resolve(dirname(file), v);
}

/** Parses and validates a gate file; every problem is an InputError naming the file and the field. */
export function parseGateFile(text: string, file: string): GateFile {
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InputError("GATE_BAD_SYNTAX", `cannot parse: ${(err as Error).message}`, { file, cause: err });
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) bad(file, "expected a mapping with `gates:`");
  const r = raw as Record<string, unknown>;
  if (r.version !== undefined && r.version !== 1) bad(file, `unsupported version ${JSON.stringify(r.version)} (expected 1)`);
  const t = (r.tasks ?? {}) as Record<string, Record<string, unknown>>;
  if (typeof t !== "object") bad(file, "`tasks` must be a mapping");
  for (const k of Object.keys(t)) if (!["ppl", "kld", "mmlu", "docvqa"].includes(k)) bad(file, `unknown task "${k}" (ppl, kld, mmlu, docvqa)`);
  const tasks: GateFile["tasks"] = {};
  if (t.ppl)
    tasks.ppl = {
      data: dataPath(t.ppl.data, "tasks.ppl.data", file, true)!,
      ctx: optNumber(t.ppl.ctx, "tasks.ppl.ctx", file, true),
      chunks: optNumber(t.ppl.chunks, "tasks.ppl.chunks", file, true),
    };
  if (t.kld) {
    tasks.kld = {
      data: dataPath(t.kld.data ?? (t.ppl ? t.ppl.data : undefined), "tasks.kld.data", file, false),
      ctx: optNumber(t.kld.ctx ?? t.ppl?.ctx, "tasks.kld.ctx", file, true),
      chunks: optNumber(t.kld.chunks ?? t.ppl?.chunks, "tasks.kld.chunks", file, true),
      baseLogits: dataPath(t.kld.baseLogits, "tasks.kld.baseLogits", file, false),
    };
  }
  if (t.mmlu) {
    const subjects = t.mmlu.subjects;
    if (subjects !== undefined && (!Array.isArray(subjects) || !subjects.every((s) => typeof s === "string")))
      bad(file, "tasks.mmlu.subjects must be a list of names");
    tasks.mmlu = {
      data: dataPath(t.mmlu.data, "tasks.mmlu.data", file, true)!,
      fewshotData: dataPath(t.mmlu.fewshotData, "tasks.mmlu.fewshotData", file, false),
      k: optNumber(t.mmlu.k, "tasks.mmlu.k", file, true),
      limit: optNumber(t.mmlu.limit, "tasks.mmlu.limit", file, true),
      subjects: subjects as string[] | undefined,
      seed: optNumber(t.mmlu.seed, "tasks.mmlu.seed", file, true),
    };
  }
  if (t.docvqa) {
    tasks.docvqa = {
      data: dataPath(t.docvqa.data, "tasks.docvqa.data", file, true)!,
      limit: optNumber(t.docvqa.limit, "tasks.docvqa.limit", file, true),
      seed: optNumber(t.docvqa.seed, "tasks.docvqa.seed", file, true),
    };
  }
  if (!Array.isArray(r.gates) || r.gates.length === 0) bad(file, "`gates` must be a non-empty list");
  const gates = (r.gates as unknown[]).map((g, i): Gate => {
    const where = `gates[${i}]`;
    if (!g || typeof g !== "object") bad(file, `${where} must be a mapping`);
    const o = g as Record<string, unknown>;
    if (typeof o.metric !== "string" || !(o.metric in METRIC_SOURCES)) {
      bad(file, `${where}.metric ${JSON.stringify(o.metric)} is not one of ${Object.keys(METRIC_SOURCES).join(", ")}`);
    }
    if (!GATE_OPS.includes(o.op as GateOp)) bad(file, `${where}.op ${JSON.stringify(o.op)} is not one of ${GATE_OPS.join(" ")}`);
    const gate: Gate = { metric: o.metric as GateMetric, op: o.op as GateOp };
    gate.threshold = optNumber(o.threshold, `${where}.threshold`, file);
    if (o.reference !== undefined) {
      if (typeof o.reference !== "string") bad(file, `${where}.reference must be a reference metric name`);
      gate.reference = o.reference;
      gate.delta = optNumber(o.delta, `${where}.delta`, file) ?? 0;
    }
    if ((gate.threshold === undefined) === (gate.reference === undefined)) bad(file, `${where} needs exactly one of threshold or reference`);
    gate.sigma = optNumber(o.sigma, `${where}.sigma`, file);
    if (gate.sigma !== undefined && (gate.sigma < 0 || !HAS_STDERR.has(gate.metric))) {
      bad(file, `${where}.sigma needs a metric with a standard error (${[...HAS_STDERR].join(", ")}) and a value ≥ 0`);
    }
    const task = METRIC_SOURCES[gate.metric].task;
    if (!tasks[task]) bad(file, `${where} gates ${gate.metric}, which needs tasks.${task}`);
    return gate;
  });
  if (gates.some((g) => g.reference !== undefined) && typeof r.references !== "string") bad(file, "gates use `reference:` but the file names no `references:`");
  // A shipped reference set is named bare ("llama-4-scout-17b-16e"); anything path-like is relative to the gate file.
  let references = r.references as string | undefined;
  if (references !== undefined && (/[\\/]/.test(references) || /\.json$/i.test(references))) references = resolve(dirname(file), references);
  return { path: file, name: typeof r.name === "string" ? r.name : file, tasks, references, gates };
}

export function loadGateFile(path: string): GateFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InputError("GATE_UNREADABLE", `cannot read gate file: ${(err as Error).message}`, { file: path, cause: err });
  }
  return parseGateFile(text, path);
}
