// Reference numbers: one versioned JSON file per model under packages/eval/references/. A file either
// lists metrics itself (each with the source it was copied from) or points at another JSON file to
// read at runtime (`loadFrom`, relative to the reference file) — the fixture's reference.json is
// produced by the fixture generator, so its numbers are never copied here.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "@moeq/formats";

export interface ReferenceMetric {
  value: number;
  /** Where the number comes from (URL or file). */
  source: string;
  unit?: string;
  notes?: string;
}

export interface ReferenceFile {
  schema: 1;
  model: string;
  /** Version of this reference set, e.g. the model-card date or the fixture generator version. */
  version: string;
  metrics: Record<string, ReferenceMetric>;
}

interface ReferenceFileOnDisk {
  schema?: number;
  model?: string;
  version?: string;
  source?: string;
  metrics?: Record<string, ReferenceMetric>;
  /** Read numbers from this JSON file (relative to the reference file). */
  loadFrom?: string;
  /** metric name → dotted path inside the loadFrom file; without it every numeric leaf is taken under its dotted path. */
  map?: Record<string, string>;
}

/** Folder of the reference files shipped with @moeq/eval. */
export function referencesDir(): string {
  // src/references.ts and dist/references.js both sit one level under the package root.
  return fileURLToPath(new URL("../references/", import.meta.url));
}

/** A shipped reference file by model id (`llama-4-scout-17b-16e`), or a path. */
export function resolveReferencePath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return resolve(nameOrPath);
  const shipped = join(referencesDir(), `${nameOrPath}.json`);
  if (existsSync(shipped)) return shipped;
  throw new InputError("REF_NOT_FOUND", `no reference file "${nameOrPath}" (neither a path nor one of ${referencesDir()})`, { file: nameOrPath });
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InputError("REF_UNREADABLE", `cannot read: ${(err as Error).message}`, { file: path, cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError("REF_BAD_JSON", `not valid JSON: ${(err as Error).message}`, { file: path, cause: err });
  }
}

function numericLeaves(v: unknown, prefix: string, out: Record<string, number>): void {
  if (typeof v === "number" && Number.isFinite(v)) out[prefix] = v;
  else if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) numericLeaves(x, prefix ? `${prefix}.${k}` : k, out);
  }
}

export function loadReferenceFile(nameOrPath: string): ReferenceFile {
  const path = resolveReferencePath(nameOrPath);
  const raw = readJson(path) as ReferenceFileOnDisk;
  if (!raw || typeof raw !== "object" || raw.schema !== 1 || typeof raw.model !== "string") {
    throw new InputError("REF_BAD_SCHEMA", `expected {"schema": 1, "model": "...", ...}`, { file: path });
  }
  const metrics: Record<string, ReferenceMetric> = {};
  for (const [k, m] of Object.entries(raw.metrics ?? {})) {
    if (typeof m?.value !== "number" || typeof m.source !== "string") {
      throw new InputError("REF_BAD_METRIC", `metric "${k}" needs a numeric "value" and a "source"`, { file: path });
    }
    metrics[k] = m;
  }
  if (raw.loadFrom) {
    const target = resolve(dirname(path), raw.loadFrom);
    if (!existsSync(target)) {
      throw new InputError("REF_LOAD_FROM_MISSING", `points at ${target}, which does not exist (has the fixture been generated?)`, { file: path });
    }
    const leaves: Record<string, number> = {};
    numericLeaves(readJson(target), "", leaves);
    const map = raw.map ?? Object.fromEntries(Object.keys(leaves).map((k) => [k, k]));
    for (const [name, p] of Object.entries(map)) {
      if (!(p in leaves)) throw new InputError("REF_MAP_MISSING", `maps "${name}" to "${p}", which is not a number in ${target}`, { file: path });
      metrics[name] = { value: leaves[p], source: target };
    }
  }
  return { schema: 1, model: raw.model, version: raw.version ?? "unversioned", metrics };
}
