import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "@moeq/formats";

/** A gate verdict in the compact form below, e.g. written by a pipeline step; read by publish first. */
export const GATE_REPORT_JSON = "gate-report.json";
/**
 * `moeq gate|eval --report <dir>` (packages/eval writeReport) writes report.json / report.md / report.html;
 * its report.json (EvalReport, `schema: 1`, `gates: [{metric, op, threshold, actual, pass, basis, stderr?}]`,
 * `passed`) is read when there is no gate-report.json.
 */
export const EVAL_REPORT_JSON = "report.json";
/** Optional human-readable report from `moeq gate`, embedded in the card when there is no JSON table. */
export const GATE_REPORT_MD = "gate-report.md";

/** One gate row: `value op threshold` must hold, e.g. `kld_mean 0.031 <= 0.05`. */
export interface GateRow {
  readonly name: string;
  readonly metric: string;
  readonly op: string;
  readonly threshold: number;
  readonly value: number;
  readonly passed: boolean;
  /** Where the threshold comes from, e.g. "llama.cpp perplexity README, Llama-3-8B q4_K_M". */
  readonly source?: string;
}

/**
 * `gate-report.json`:
 * `{ "passed": false, "gates": [{ "name", "metric", "op", "threshold", "value", "passed", "source"? }] }`.
 * `passed` at the top is the verdict; when missing it is derived as "every gate passed".
 */
export interface GateReport {
  readonly passed: boolean;
  readonly gates: readonly GateRow[];
  /** Contents of gate-report.md, when present. */
  readonly markdown?: string;
  /** Which file(s) it came from. */
  readonly files: readonly string[];
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function parseRow(r: unknown, i: number, file: string): GateRow {
  const bad = (why: string) => new InputError("BAD_GATE_REPORT", `gates[${i}]: ${why}`, { file });
  if (typeof r !== "object" || r === null) throw bad("expected an object");
  const o = r as Record<string, unknown>;
  const metric = typeof o.metric === "string" ? o.metric : undefined;
  const name = typeof o.name === "string" ? o.name : metric;
  if (!name || !metric) throw bad('needs string "metric" (and optionally "name")');
  if (typeof o.op !== "string") throw bad('needs string "op"');
  if (typeof o.threshold !== "number" || typeof o.value !== "number") throw bad('needs numbers "threshold" and "value"');
  if (typeof o.passed !== "boolean") throw bad('needs boolean "passed"');
  return { name, metric, op: o.op, threshold: o.threshold, value: o.value, passed: o.passed, ...(typeof o.source === "string" ? { source: o.source } : {}) };
}

/** GateOutcome rows of an EvalReport (packages/eval) as GateRows; `basis` and `± stderr` become the source. */
function fromEvalReport(o: Record<string, unknown>, file: string): GateReport {
  const gates = (o.gates as unknown[]).map((r, i): GateRow => {
    const g = (typeof r === "object" && r !== null ? r : {}) as Record<string, unknown>;
    if (typeof g.metric !== "string" || typeof g.op !== "string" || typeof g.threshold !== "number" || typeof g.actual !== "number" || typeof g.pass !== "boolean") {
      throw new InputError("BAD_GATE_REPORT", `gates[${i}]: expected {metric, op, threshold, actual, pass} as moeq gate writes them`, { file });
    }
    const source = [typeof g.basis === "string" ? g.basis : undefined, typeof g.stderr === "number" ? `± ${g.stderr}` : undefined].filter(Boolean).join(" ");
    return { name: g.metric, metric: g.metric, op: g.op, threshold: g.threshold, value: g.actual, passed: g.pass, ...(source ? { source } : {}) };
  });
  const passed = (typeof o.passed === "boolean" ? o.passed : true) && gates.every((g) => g.passed);
  return { passed, gates, files: [file] };
}

async function readEvalReport(file: string): Promise<GateReport | undefined> {
  const text = await readOptional(file);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined; // some other report.json: not ours to judge
  }
  const o = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  if (o.schema !== 1 || !Array.isArray(o.gates)) return undefined; // an eval report without gates is no verdict
  return fromEvalReport(o, file);
}

/**
 * The folder's gate verdict, or undefined when there is none. Looks at, in order: `explicit` (a
 * gate-report.json or an eval report.json anywhere), `<dir>/gate-report.json`, `<dir>/report.json`
 * (moeq gate --report), `<dir>/gate-report.md`.
 */
export async function readGateReport(dir: string, explicit?: string): Promise<GateReport | undefined> {
  if (explicit) {
    const fromEval = await readEvalReport(explicit);
    if (fromEval) return fromEval;
    const text = await readOptional(explicit);
    if (text === undefined) throw new InputError("BAD_GATE_REPORT", "no such file", { file: explicit });
    return parseCompactReport(text, explicit, undefined, []);
  }
  const jsonFile = join(dir, GATE_REPORT_JSON);
  const mdFile = join(dir, GATE_REPORT_MD);
  const [jsonText, markdown] = await Promise.all([readOptional(jsonFile), readOptional(mdFile)]);
  if (jsonText === undefined) {
    const fromEval = await readEvalReport(join(dir, EVAL_REPORT_JSON));
    if (fromEval) return fromEval;
  }
  if (jsonText === undefined && markdown === undefined) return undefined;
  if (jsonText === undefined) {
    // Markdown alone carries no machine verdict; a FAIL anywhere in it counts as failed.
    return { passed: !/\bFAIL(ED)?\b/.test(markdown!), gates: [], markdown, files: [mdFile] };
  }
  return parseCompactReport(jsonText, jsonFile, markdown, markdown !== undefined ? [mdFile] : []);
}

/** gate-report.json: `{ "passed"?, "gates": [{ name?, metric, op, threshold, value, passed, source? }] }`. */
function parseCompactReport(jsonText: string, jsonFile: string, markdown: string | undefined, extraFiles: string[]): GateReport {
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (err) {
    throw new InputError("BAD_GATE_REPORT", `not valid JSON (${(err as Error).message})`, { file: jsonFile });
  }
  const o = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  if (!Array.isArray(o.gates)) throw new InputError("BAD_GATE_REPORT", 'expected an object with a "gates" array', { file: jsonFile });
  const gates = o.gates.map((r, i) => parseRow(r, i, jsonFile));
  if (o.passed !== undefined && typeof o.passed !== "boolean") throw new InputError("BAD_GATE_REPORT", '"passed" must be a boolean', { file: jsonFile });
  const passed = typeof o.passed === "boolean" ? o.passed && gates.every((g) => g.passed) : gates.every((g) => g.passed);
  return { passed, gates, ...(markdown !== undefined ? { markdown } : {}), files: [jsonFile, ...extraFiles] };
}
