import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { InputError } from "@moeq/formats";
import { readPublishManifest, type ModelCardFields, type QuantFormat } from "./publish-manifest.js";
import type { LocalFile } from "./list-local-files.js";

/** What the model card says about the folder; each field names where it came from. */
export interface ModelMetadata extends ModelCardFields {
  readonly architecture?: string;
  readonly tags: readonly string[];
  /** e.g. ["publish-manifest.json", "model-Q4_K_M.gguf"]. */
  readonly sources: readonly string[];
}

const HF_PREFIX = /^https?:\/\/(?:www\.)?huggingface\.co\//;

/** GGUF `general.*` keys (gguf-py Keys.General): name, license, base_model.0.repo_url, file_type. */
async function fromGguf(path: string): Promise<Partial<ModelMetadata>> {
  let meta: Record<string, unknown>;
  try {
    meta = (await gguf(path, { allowLocalFile: true })).metadata as unknown as Record<string, unknown>;
  } catch (err) {
    throw new InputError("BAD_GGUF", `cannot read GGUF metadata (${(err as Error).message})`, { file: path });
  }
  const s = (k: string) => (typeof meta[k] === "string" && (meta[k] as string).trim() ? (meta[k] as string) : undefined);
  const repoUrl = s("general.base_model.0.repo_url");
  const baseOrg = s("general.base_model.0.organization");
  const baseName = s("general.base_model.0.name");
  const baseModel =
    repoUrl && HF_PREFIX.test(repoUrl) ? repoUrl.replace(HF_PREFIX, "").replace(/\/+$/, "") : baseOrg && baseName ? `${baseOrg}/${baseName}` : undefined;
  const out: Record<string, unknown> = {};
  if (baseModel) out.baseModel = baseModel;
  if (s("general.license")) out.license = s("general.license");
  if (s("general.name")) out.modelName = s("general.name");
  if (s("general.architecture")) out.architecture = s("general.architecture");
  const q = /[-_.]((?:I?Q\d[A-Z0-9_]*)|BF16|F16|F32)\.gguf$/i.exec(path);
  if (q) out.quantization = q[1]!.toUpperCase();
  return out as Partial<ModelMetadata>;
}

/** Transformers `config.json`: quantization_config.quant_method (gptq, awq, fp8, compressed-tensors). */
async function fromConfig(dir: string): Promise<Partial<ModelMetadata> & { format?: QuantFormat }> {
  const file = join(dir, "config.json");
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new InputError("BAD_CONFIG", `not valid JSON (${(err as Error).message})`, { file });
  }
  const out: Record<string, unknown> = {};
  const qc = cfg.quantization_config as Record<string, unknown> | undefined;
  const method = typeof qc?.quant_method === "string" ? qc.quant_method.toLowerCase() : undefined;
  if (method === "gptq" || method === "awq" || method === "fp8") out.format = method;
  if (method === "compressed-tensors") out.format = "fp8";
  if (qc && typeof qc.bits === "number")
    out.quantization = `${String(method).toUpperCase()} ${qc.bits}-bit${typeof qc.group_size === "number" ? ` g${qc.group_size}` : ""}`;
  if (typeof cfg.model_type === "string") out.architecture = cfg.model_type;
  return out as Partial<ModelMetadata> & { format?: QuantFormat };
}

/**
 * Gathers the card's facts: publish-manifest.json first (the pipeline's own record), then GGUF
 * general.* keys of the first .gguf file, then config.json's quantization_config.
 */
export async function collectModelMetadata(dir: string, files: readonly LocalFile[]): Promise<ModelMetadata> {
  const sources: string[] = [];
  const manifest = await readPublishManifest(dir);
  if (manifest) sources.push("publish-manifest.json");
  const ggufFile = files.find((f) => f.path.endsWith(".gguf") && !/mmproj/i.test(f.path));
  const g = ggufFile ? await fromGguf(ggufFile.absPath) : {};
  if (ggufFile) sources.push(ggufFile.path);
  const c = await fromConfig(dir);
  if (Object.keys(c).length > 0) sources.push("config.json");
  const format: QuantFormat | undefined = manifest?.format ?? (ggufFile ? "gguf" : c.format);
  if (!format) {
    throw new InputError(
      "PUBLISH_UNKNOWN_FORMAT",
      "cannot tell what this folder holds: no publish-manifest.json, no .gguf file, and no config.json quantization_config (gptq/awq/fp8)",
      { file: dir },
    );
  }
  const pick = <K extends keyof ModelMetadata>(k: K): ModelMetadata[K] | undefined =>
    (manifest as Partial<ModelMetadata> | undefined)?.[k] ?? (format === "gguf" ? g[k] : undefined) ?? c[k] ?? g[k];
  const out: Record<string, unknown> = { format, tags: manifest?.tags ?? [], sources };
  for (const k of ["baseModel", "license", "quantization", "modelName", "pipelineTag", "architecture"] as const) {
    const v = pick(k);
    if (v !== undefined) out[k] = v;
  }
  return out as unknown as ModelMetadata;
}
