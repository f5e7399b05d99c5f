/**
 * The Llama 4 vision tower → an mmproj GGUF, as llama.cpp's converter writes it
 * (conversion/llama4.py Llama4VisionModel over MmprojModel in conversion/base.py; names from gguf-py
 * tensor_mapping "llama 4" rows): general.architecture "clip", clip.vision.* keys, `v.*` / `mm.*` tensors.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GGUFValueType, InputError, type GGUFKV } from "@moeq/formats";
import { llama4VisionGgufName } from "@moeq/runtime";
import { kvArr, kvBool, kvF32, kvStr, kvU32 } from "../gguf-kv.js";
import type { CheckpointTensor } from "../checkpoint-index.js";
import { generalNamingKVs, type Llama4Config, type PlannedTensor } from "./llama4.js";

/**
 * The mmproj GGUF name of an HF vision tensor (the table lives in @moeq/runtime). Like Llama4VisionModel.filter_tensors,
 * a bare `positional_embedding_vlm` gets `.weight` appended before the lookup, so both spellings map to v.position_embd.weight.
 */
export function mapLlama4VisionName(hf: string): string | undefined {
  return llama4VisionGgufName(hf.endsWith("positional_embedding_vlm.weight") ? hf.slice(0, -".weight".length) : hf);
}

/** Vision tensors in the converter's (checkpoint) order. */
export function planLlama4VisionTensors(tensors: readonly CheckpointTensor[]): PlannedTensor[] {
  const out: PlannedTensor[] = [];
  for (const t of tensors) {
    if (t.name.includes("language_model.")) continue;
    if (!t.name.includes("multi_modal_projector") && !t.name.includes("vision_model")) continue;
    const name = mapLlama4VisionName(t.name);
    if (!name) throw new InputError("UNMAPPED_TENSOR", `cannot map vision tensor ${t.name} to an mmproj GGUF name`, { file: t.file });
    const ne = [...t.shape].reverse();
    // prepare_tensors: 1-D, norms, positional embeddings and non-.weight tensors stay F32
    const forceF32 = ne.length <= 1 || name.endsWith("_norm.weight") || name === "v.position_embd.weight" || !name.endsWith(".weight");
    out.push({ name, ne, recipe: { kind: "plain", src: t }, experts: 1, forceF32, srcDtype: t.dtype });
  }
  return out;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new InputError("BAD_JSON", `not valid JSON: ${(e as Error).message}`, { file });
  }
}

/** MmprojModel + Llama4VisionModel set_gguf_parameters, in order. */
export function llama4VisionKVs(cfg: Llama4Config, dir: string, tensors: readonly PlannedTensor[], fileType: number): Map<string, GGUFKV> {
  const v = cfg.raw.vision_config as Record<string, unknown> | undefined;
  const file = join(dir, "config.json");
  if (!v || typeof v !== "object") throw new InputError("NO_VISION_CONFIG", "checkpoint has vision tensors but config.json has no vision_config", { file });
  let pre: Record<string, unknown> = {};
  const pc = join(dir, "preprocessor_config.json");
  if (existsSync(pc)) pre = { ...pre, ...readJson(pc) };
  const prc = join(dir, "processor_config.json");
  if (existsSync(prc)) {
    const c = readJson(prc);
    pre = { ...pre, ...c, ...((c.image_processor as Record<string, unknown>) ?? {}) };
  }
  const need = (keys: string[]): number => {
    for (const k of keys) if (typeof v[k] === "number") return v[k] as number;
    throw new InputError("CONFIG_KEY", `vision_config is missing ${keys.join("/")}`, { file });
  };
  const mean = pre.image_mean;
  const std = pre.image_std;
  if (!Array.isArray(mean) || !Array.isArray(std)) throw new InputError("CONFIG_KEY", "preprocessor_config.json lacks image_mean/image_std", { file: pc });
  const ratio = v.pixel_shuffle_ratio;
  if (typeof ratio !== "number" || ratio <= 0) throw new InputError("CONFIG_KEY", "vision_config.pixel_shuffle_ratio is missing", { file });
  const kv = new Map<string, GGUFKV>();
  kv.set("general.architecture", kvStr("clip"));
  kv.set("general.type", kvStr("mmproj"));
  generalNamingKVs(kv, cfg.raw, dir, tensors);
  kv.set("general.file_type", kvU32(fileType));
  kv.set("clip.has_vision_encoder", kvBool(true));
  kv.set("clip.vision.projection_dim", kvU32(cfg.nEmbd));
  kv.set("clip.vision.image_size", kvU32(need(["image_size"])));
  kv.set("clip.vision.patch_size", kvU32(need(["patch_size"])));
  kv.set("clip.vision.embedding_length", kvU32(need(["hidden_size", "width", "vt_hidden_size"])));
  kv.set("clip.vision.feed_forward_length", kvU32(need(["intermediate_size", "vt_intermediate_size"])));
  kv.set(
    "clip.vision.block_count",
    kvU32(need(["n_layers", "num_hidden_layers", "n_layer", "num_layers", "depth", "layers", "encoder_layers", "vt_num_hidden_layers"])),
  );
  kv.set("clip.vision.attention.head_count", kvU32(need(["num_attention_heads", "num_heads", "heads", "vt_num_attention_heads"])));
  kv.set("clip.vision.image_mean", kvArr(GGUFValueType.FLOAT32, mean.map(Number)));
  kv.set("clip.vision.image_std", kvArr(GGUFValueType.FLOAT32, std.map(Number)));
  kv.set("clip.projector_type", kvStr("llama4"));
  kv.set("clip.vision.attention.layer_norm_epsilon", kvF32(need(["norm_eps"])));
  kv.set("clip.vision.projector.scale_factor", kvU32(Math.trunc(1 / ratio)));
  if (v.hidden_act !== "gelu")
    throw new InputError("CONFIG_KEY", `vision hidden_act is ${String(v.hidden_act)}; llama.cpp's llama4 projector expects gelu`, { file });
  kv.set("clip.use_gelu", kvBool(true));
  kv.set("general.quantization_version", kvU32(2));
  return kv;
}
