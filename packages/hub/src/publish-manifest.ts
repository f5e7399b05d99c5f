import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, writeFileAtomic } from "@moeq/formats";

/** File the pipeline writes next to its outputs so `moeq publish` knows what the folder holds. */
export const PUBLISH_MANIFEST_FILE = "publish-manifest.json";

/** The container/recipe family of a published quantized model; each becomes a Hub tag. */
export type QuantFormat = "gguf" | "gptq" | "awq" | "fp8";

export const QUANT_FORMATS: readonly QuantFormat[] = ["gguf", "gptq", "awq", "fp8"];

/** What the model card shows about a folder, whether from the manifest or found in the files. */
export interface ModelCardFields {
  readonly format: QuantFormat;
  /** The Hub repo id the weights came from (becomes `base_model`). */
  readonly baseModel?: string;
  /** Hub licence id of the base model (e.g. `llama4`, `apache-2.0`); inherited when absent. */
  readonly license?: string;
  /** Scheme name, e.g. `Q4_K_M`, `W4A16 g128`, `FP8 e4m3 per-channel`. */
  readonly quantization?: string;
  readonly modelName?: string;
  readonly pipelineTag?: string;
}

/**
 * `publish-manifest.json`, written by `moeq convert|quantize|gptq|awq|fp8`:
 * ```json
 * { "version": 1, "format": "gguf", "baseModel": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
 *   "license": "llama4", "quantization": "Q4_K_M", "modelName": "Llama-4-Scout Q4_K_M",
 *   "pipelineTag": "image-text-to-text", "tags": ["moe"], "tool": "moeq 0.1.0" }
 * ```
 */
export interface PublishManifest extends ModelCardFields {
  readonly version: 1;
  readonly tags?: readonly string[];
  /** What wrote the folder, e.g. `moeq 0.1.0`. */
  readonly tool?: string;
}

function str(v: unknown, key: string, file: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.trim() === "") throw new InputError("BAD_PUBLISH_MANIFEST", `"${key}" must be a non-empty string`, { file });
  return v;
}

/** Validates a parsed manifest; throws InputError naming the file and field. */
export function parsePublishManifest(json: unknown, file: string): PublishManifest {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new InputError("BAD_PUBLISH_MANIFEST", "expected a JSON object", { file });
  const o = json as Record<string, unknown>;
  if (o.version !== 1) throw new InputError("BAD_PUBLISH_MANIFEST", `unsupported "version" ${JSON.stringify(o.version)}; expected 1`, { file });
  if (!QUANT_FORMATS.includes(o.format as QuantFormat)) {
    throw new InputError("BAD_PUBLISH_MANIFEST", `"format" must be one of ${QUANT_FORMATS.join(", ")}, got ${JSON.stringify(o.format)}`, { file });
  }
  if (o.tags !== undefined && (!Array.isArray(o.tags) || !o.tags.every((t) => typeof t === "string" && t.trim() !== ""))) {
    throw new InputError("BAD_PUBLISH_MANIFEST", `"tags" must be an array of non-empty strings`, { file });
  }
  const out: Record<string, unknown> = { version: 1, format: o.format };
  for (const k of ["baseModel", "license", "quantization", "modelName", "pipelineTag", "tool"] as const) {
    const v = str(o[k], k, file);
    if (v !== undefined) out[k] = v;
  }
  if (o.tags) out.tags = o.tags;
  return out as unknown as PublishManifest;
}

/** The folder's manifest, or undefined when it has none. */
export async function readPublishManifest(dir: string): Promise<PublishManifest | undefined> {
  const file = join(dir, PUBLISH_MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError("BAD_PUBLISH_MANIFEST", `not valid JSON (${(err as Error).message})`, { file });
  }
  return parsePublishManifest(json, file);
}

/** Crash-safe write of the manifest into an output folder (for the pipeline). */
export async function writePublishManifest(dir: string, manifest: PublishManifest): Promise<string> {
  const file = join(dir, PUBLISH_MANIFEST_FILE);
  parsePublishManifest(manifest, file);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(file, JSON.stringify(manifest, null, 2) + "\n");
  return file;
}
