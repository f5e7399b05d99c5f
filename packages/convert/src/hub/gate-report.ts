import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "@moeq/formats";

/** Written by `moeq gate` into the model folder; read by publish. */
export const GATE_REPORT_JSON = "gate-report.json";
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

/** The folder's gate verdict, or undefined when neither gate-report.json nor gate-report.md exists. */
export async function readGateReport(dir: string): Promise<GateReport | undefined> {
  const jsonFile = join(dir, GATE_REPORT_JSON);
  const mdFile = join(dir, GATE_REPORT_MD);
  const [jsonText, markdown] = await Promise.all([readOptional(jsonFile), readOptional(mdFile)]);
  if (jsonText === undefined && markdown === undefined) return undefined;
  if (jsonText === undefined) {
    // Markdown alone carries no machine verdict; a FAIL anywhere in it counts as failed.
    return { passed: !/\bFAIL(ED)?\b/.test(markdown!), gates: [], markdown, files: [mdFile] };
  }
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
  return { passed, gates, ...(markdown !== undefined ? { markdown } : {}), files: markdown !== undefined ? [jsonFile, mdFile] : [jsonFile] };
}
