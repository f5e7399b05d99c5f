import { open, readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { InputError } from "./errors.js";
import { GGML_TYPE_INFO } from "./ggml-types.js";
import { GGUFValueType, type GGUFKV, type GGUFValue } from "./gguf-types.js";
import { openGguf } from "./gguf-read.js";
import { openSafetensors } from "./safetensors-read.js";

/** Arrays longer than this are summarised as `[TYPE × N]` in inspect reports. */
export const INSPECT_MAX_ARRAY_ITEMS = 8;

/** A JSON-safe rendering of a metadata value: bigints become decimal strings, long arrays a summary string. */
export type InspectValue = string | number | boolean | InspectValue[];

export interface InspectMetadataEntry {
  key: string;
  /** GGUF value type name (STRING, UINT32, ARRAY[FLOAT32] …); "string" for safetensors __metadata__ */
  type: string;
  value: InspectValue;
  /** element count, for arrays */
  length?: number;
}

export interface InspectTypeTotal {
  /** ggml type name (Q4_K, F16 …) for GGUF, dtype (BF16, F8_E4M3 …) for safetensors */
  type: string;
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface InspectTensor {
  name: string;
  /** as stored: ggml order (row length first) for GGUF, row-major outermost first for safetensors */
  shape: number[];
  type: string;
  bytes: number;
  /** safetensors: the shard holding it */
  file?: string;
}

export interface InspectOptions {
  /** also list every tensor (name, shape, type, bytes) */
  tensors?: boolean;
}

export interface InspectReport {
  path: string;
  format: "gguf" | "safetensors";
  /** data files read (one GGUF, or the safetensors file(s)) */
  files: string[];
  /** general.architecture, else config.json architectures[0], else model_type */
  architecture: string | null;
  /** config.json model_type, when there is a config.json next to the checkpoint */
  modelType: string | null;
  /** config.json text_config.model_type (multimodal checkpoints such as Llama 4) */
  textModelType: string | null;
  tensorCount: number;
  parameterCount: number;
  /** bytes of tensor data */
  tensorBytes: number;
  /** per type, largest first */
  byType: InspectTypeTotal[];
  metadata: InspectMetadataEntry[];
  gguf?: { version: number; alignment: number; dataOffset: number };
  /** only with { tensors: true } */
  tensors?: InspectTensor[];
}

function jsonSafe(v: GGUFValue): InspectValue {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  return v;
}

/** The shortest decimal that reads back as the same float32 (1e-5, not 0.000009999999747378752). */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p < 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function ggufEntry(key: string, kv: GGUFKV): InspectMetadataEntry {
  if (kv.type === GGUFValueType.FLOAT32) return { key, type: "FLOAT32", value: shortestFloat32(kv.value as number) };
  if (kv.type !== GGUFValueType.ARRAY) return { key, type: GGUFValueType[kv.type], value: jsonSafe(kv.value) };
  const arr = kv.value as GGUFValue[];
  const elem = GGUFValueType[kv.arrayType ?? GGUFValueType.ARRAY];
  const value =
    arr.length > INSPECT_MAX_ARRAY_ITEMS
      ? `[${elem} × ${arr.length}]`
      : kv.arrayType === GGUFValueType.FLOAT32
        ? arr.map((x) => shortestFloat32(x as number))
        : jsonSafe(arr);
  return { key, type: `ARRAY[${elem}]`, value, length: arr.length };
}

function addTotal(map: Map<string, InspectTypeTotal>, type: string, parameters: number, bytes: number): void {
  const t = map.get(type) ?? { type, tensors: 0, parameters: 0, bytes: 0 };
  t.tensors++;
  t.parameters += parameters;
  t.bytes += bytes;
  map.set(type, t);
}

function finishTotals(map: Map<string, InspectTypeTotal>): InspectTypeTotal[] {
  return [...map.values()].sort((a, b) => b.bytes - a.bytes || a.type.localeCompare(b.type));
}

interface HFConfigFacts {
  architecture: string | null;
  modelType: string | null;
  textModelType: string | null;
}

/** Reads the model facts inspect reports from a Hugging Face config.json, if one is there. */
async function readConfig(dir: string): Promise<HFConfigFacts | undefined> {
  const file = join(dir, "config.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (err) {
    throw new InputError("CONFIG_BAD_JSON", `config.json is not valid JSON (${(err as Error).message})`, { file });
  }
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) throw new InputError("CONFIG_BAD_JSON", "config.json is not a JSON object", { file });
  const c = cfg as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const archs = Array.isArray(c.architectures) ? c.architectures.filter((a): a is string => typeof a === "string") : [];
  const text_config = typeof c.text_config === "object" && c.text_config !== null ? (c.text_config as Record<string, unknown>) : {};
  return { architecture: archs[0] ?? str(c.model_type), modelType: str(c.model_type), textModelType: str(text_config.model_type) };
}

async function isGgufFile(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const magic = new Uint8Array(4);
    const { bytesRead } = await fh.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic[0] === 0x47 && magic[1] === 0x47 && magic[2] === 0x55 && magic[3] === 0x46;
  } finally {
    await fh.close();
  }
}

/**
 * What is in a GGUF file, a safetensors file, or a Hugging Face checkpoint directory: architecture,
 * tensor count, parameter count, bytes per type, metadata. Reads headers only.
 */
export async function inspectPath(path: string, opts: InspectOptions = {}): Promise<InspectReport> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw new InputError("NOT_FOUND", "no such file or directory", { file: abs });
  }
  if (st.isFile() && (await isGgufFile(abs))) return inspectGguf(abs, opts);
  if (st.isFile() && !/\.safetensors(\.index\.json)?$/.test(abs)) {
    throw new InputError("UNKNOWN_FORMAT", "neither a GGUF file (no GGUF magic) nor a .safetensors file or index", { file: abs });
  }
  return inspectSafetensors(abs, st.isDirectory() ? abs : dirname(abs), opts);
}

async function inspectGguf(path: string, opts: InspectOptions): Promise<InspectReport> {
  const f = await openGguf(path);
  try {
    const totals = new Map<string, InspectTypeTotal>();
    let parameterCount = 0;
    let tensorBytes = 0;
    for (const t of f.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      parameterCount += n;
      tensorBytes += t.byteLength;
      addTotal(totals, GGML_TYPE_INFO[t.type].name.toUpperCase(), n, t.byteLength);
    }
    const arch = f.get("general.architecture");
    return {
      path,
      format: "gguf",
      files: [path],
      architecture: typeof arch === "string" ? arch : null,
      modelType: null,
      textModelType: null,
      tensorCount: f.tensors.length,
      parameterCount,
      tensorBytes,
      byType: finishTotals(totals),
      metadata: [...f.metadata].map(([k, kv]) => ggufEntry(k, kv)),
      gguf: { version: f.version, alignment: f.alignment, dataOffset: f.dataOffset },
      ...(opts.tensors
        ? { tensors: f.tensors.map((t) => ({ name: t.name, shape: t.shape, type: GGML_TYPE_INFO[t.type].name.toUpperCase(), bytes: t.byteLength })) }
        : {}),
    };
  } finally {
    await f.close();
  }
}

async function inspectSafetensors(path: string, dir: string, opts: InspectOptions): Promise<InspectReport> {
  const ck = await openSafetensors(path);
  try {
    const totals = new Map<string, InspectTypeTotal>();
    const files = new Set<string>();
    let parameterCount = 0;
    let tensorBytes = 0;
    for (const t of ck.tensors.values()) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      parameterCount += n;
      tensorBytes += t.byteLength;
      files.add(t.file);
      addTotal(totals, t.dtype, n, t.byteLength);
    }
    const cfg = await readConfig(dir);
    return {
      path,
      format: "safetensors",
      files: [...files],
      architecture: cfg?.architecture ?? null,
      modelType: cfg?.modelType ?? null,
      textModelType: cfg?.textModelType ?? null,
      tensorCount: ck.tensors.size,
      parameterCount,
      tensorBytes,
      byType: finishTotals(totals),
      metadata: Object.entries(ck.metadata).map(([key, value]) => ({ key, type: "string", value })),
      ...(opts.tensors
        ? { tensors: [...ck.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, type: t.dtype, bytes: t.byteLength, file: t.file })) }
        : {}),
    };
  } finally {
    await ck.close();
  }
}
