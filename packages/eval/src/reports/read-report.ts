// Reading a report.json back (e.g. for `moeq publish`): the one shape writeReport writes, checked field by
// field, so a missing, truncated or foreign file is an error and never "no gate".
import { readFileSync } from "node:fs";
import { InputError } from "@moeq/formats";
import type { GateOutcome } from "../gates/evaluate.js";
import { GATE_OPS, METRIC_SOURCES, type GateMetric, type GateOp } from "../gates/gate-file.js";
import type { EvalReport } from "./report.js";
import { renderGateTable } from "./markdown.js";

/** The report version this build writes and reads (`EvalReport.schema`). */
export const REPORT_SCHEMA = 1;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseGateOutcome(v: unknown, i: number, file: string): GateOutcome {
  const bad = (why: string) => new InputError("REPORT_BAD_GATE", `gates[${i}]: ${why}`, { file });
  if (!isRecord(v)) throw bad("expected an object");
  const { metric, op, threshold, actual, pass, basis, stderr } = v;
  if (typeof metric !== "string" || !Object.hasOwn(METRIC_SOURCES, metric)) throw bad(`unknown metric ${JSON.stringify(metric)}`);
  if (typeof op !== "string" || !GATE_OPS.includes(op as GateOp)) throw bad(`unknown op ${JSON.stringify(op)}`);
  if (typeof threshold !== "number") throw bad('needs a number "threshold"');
  // JSON has no NaN: a non-finite measurement (which never passes) is written as null.
  if (typeof actual !== "number" && actual !== null) throw bad('needs a number "actual"');
  if (typeof pass !== "boolean") throw bad('needs a boolean "pass"');
  if (typeof basis !== "string") throw bad('needs a string "basis"');
  if (stderr !== undefined && typeof stderr !== "number") throw bad('"stderr" must be a number');
  const outcome: GateOutcome = {
    metric: metric as GateMetric,
    op: op as GateOp,
    threshold,
    actual: actual ?? Number.NaN,
    pass: pass && actual !== null,
    basis,
  };
  return stderr === undefined ? outcome : { ...outcome, stderr };
}

/** Checks a parsed report.json; throws InputError naming `file` and the first problem. */
export function parseReport(json: unknown, file: string): EvalReport {
  const bad = (code: string, why: string) => new InputError(code, why, { file });
  if (!isRecord(json)) throw bad("REPORT_BAD_SHAPE", "expected a JSON object as `moeq eval|gate --report` writes it");
  if (json.schema !== REPORT_SCHEMA) {
    throw bad("REPORT_UNKNOWN_SCHEMA", `unknown report schema ${JSON.stringify(json.schema)} (this moeq reads schema ${REPORT_SCHEMA})`);
  }
  for (const key of ["model", "engine", "createdAt"] as const) {
    if (typeof json[key] !== "string") throw bad("REPORT_BAD_SHAPE", `needs a string "${key}"`);
  }
  if (!isRecord(json.results)) throw bad("REPORT_BAD_SHAPE", 'needs an object "results"');
  if (!isRecord(json.metrics)) throw bad("REPORT_BAD_SHAPE", 'needs an object "metrics"');
  if (json.gates !== undefined && !Array.isArray(json.gates)) throw bad("REPORT_BAD_SHAPE", '"gates" must be an array');
  if (json.passed !== undefined && typeof json.passed !== "boolean") throw bad("REPORT_BAD_SHAPE", '"passed" must be a boolean');
  const gates = json.gates?.map((g: unknown, i: number) => parseGateOutcome(g, i, file));
  return { ...(json as unknown as EvalReport), ...(gates ? { gates } : {}) };
}

/**
 * Reads a report.json written by `writeReport`. A missing or unreadable file, text that is not JSON
 * (e.g. cut short by a crash), an unknown `schema` or a malformed field is an InputError (CLI exit 2).
 */
export function readReport(file: string): EvalReport {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError("REPORT_UNREADABLE", code === "ENOENT" ? "no such report" : `cannot read the report (${code ?? String(err)})`, { file, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError("REPORT_NOT_JSON", `not valid JSON, truncated or not a report (${(err as Error).message})`, { file });
  }
  return parseReport(json, file);
}

/** What a gated report says, ready for a model card: the verdict, the gate table, and one line per failed gate. */
export interface GateVerdict {
  readonly passed: boolean;
  /** The gates as a Markdown table (the same table report.md shows). */
  readonly table: string;
  /** e.g. "kld_mean: 0.2 <= 0.05 is false". */
  readonly failures: readonly string[];
  /** The report it was read from. */
  readonly file: string;
}

/**
 * The verdict of a report, or undefined when the report ran no gates (`moeq eval` without a gate file).
 * It passed only when the report says so and every gate row passed.
 */
export function gateVerdict(report: EvalReport, file: string): GateVerdict | undefined {
  if (!report.gates?.length) return undefined;
  const failed = report.gates.filter((g) => !g.pass);
  return {
    passed: report.passed !== false && failed.length === 0,
    table: renderGateTable(report.gates),
    failures: failed.map((g) => `${g.metric}: ${g.actual} ${g.op} ${g.threshold} is false`),
    file,
  };
}
