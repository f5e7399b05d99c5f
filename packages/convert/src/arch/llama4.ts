/**
 * Llama 4 (Llama4ForConditionalGeneration / Llama4ForCausalLM) → GGUF "llama4", following llama.cpp's
 * converter (conversion/llama.py Llama4Model over LlamaModel/TextModel in conversion/base.py):
 * hparams from config.json (text_config moved to the root, intermediate sizes swapped), KVs in the
 * converter's order and types, tensor names via the shared name table (@moeq/runtime), fused experts
 * split/transposed, `rope_freqs.weight` generated for llama3 rope scaling, tensors in the converter's order.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { InputError } from "@moeq/formats";
import { mapLlama4HfName, stripLanguageModelPrefix } from "@moeq/runtime";
import type { GGUFKV } from "@moeq/formats";
import { kvF32, kvI32, kvStr, kvU32 } from "../gguf-kv.js";
import type { CheckpointTensor } from "../checkpoint-index.js";
import { generalNaming } from "./general-metadata.js";

export type HParams = Record<string, unknown>;

export interface Llama4Config {
  /** The merged hparams as the converter sees them (text_config at the root, intermediate sizes swapped). */
  readonly hparams: HParams;
  /** config.json `architectures[0]`. */
  readonly hfArch: string;
  /** The original config.json, for the vision tower. */
  readonly raw: HParams;
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
  readonly nExpert: number;
  readonly nFfExp: number;
  readonly nFf: number;
  readonly interleaveMoeLayerStep: number;
  readonly vocabSize: number;
}

const num = (h: HParams, key: string, file: string): number => {
  const v = h[key];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new InputError("CONFIG_KEY", `config is missing numeric "${key}"`, { file });
  return v;
};

/** Reads and validates config.json the way Llama4Model.__init__ and TextModel.__init__ prepare it. */
export function readLlama4Config(dir: string): Llama4Config {
  const file = join(dir, "config.json");
  if (!existsSync(file)) throw new InputError("NO_CONFIG", "config.json not found", { file });
  let raw: HParams;
  try {
    raw = JSON.parse(readFileSync(file, "utf8")) as HParams;
  } catch (e) {
    throw new InputError("BAD_JSON", `not valid JSON: ${(e as Error).message}`, { file });
  }
  const archs = raw.architectures;
  const hfArch = Array.isArray(archs) && typeof archs[0] === "string" ? archs[0] : "";
  if (hfArch !== "Llama4ForConditionalGeneration" && hfArch !== "Llama4ForCausalLM") {
    throw new InputError("UNSUPPORTED_ARCH", `architectures[0] is "${hfArch}"; supported: Llama4ForConditionalGeneration, Llama4ForCausalLM`, { file });
  }
  let hparams: HParams = { ...raw };
  if (raw.text_config && typeof raw.text_config === "object") hparams = { ...raw, ...(raw.text_config as HParams) };
  // Llama4Model.__init__: HF "intermediate_size" is the expert width; the dense MLP width is intermediate_size_mlp.
  hparams.intermediate_size_moe = hparams.intermediate_size;
  hparams.intermediate_size = hparams.intermediate_size_mlp;
  const nLayer = num(hparams, "num_hidden_layers", file);
  const nEmbd = num(hparams, "hidden_size", file);
  const nHead = num(hparams, "num_attention_heads", file);
  const nHeadKv = typeof hparams.num_key_value_heads === "number" ? hparams.num_key_value_heads : nHead;
  const headDim = typeof hparams.head_dim === "number" ? hparams.head_dim : Math.trunc(nEmbd / nHead);
  const nExpert = num(hparams, "num_local_experts", file);
  if (nExpert < 1) throw new InputError("CONFIG_KEY", "num_local_experts must be ≥ 1 (llama.cpp refuses llama4 without experts)", { file });
  return {
    hparams,
    hfArch,
    raw,
    nLayer,
    nEmbd,
    nHead,
    nHeadKv,
    headDim,
    nExpert,
    nFfExp: num(hparams, "intermediate_size_moe", file),
    nFf: num(hparams, "intermediate_size", file),
    interleaveMoeLayerStep: num(hparams, "interleave_moe_layer_step", file),
    vocabSize: num(hparams, "vocab_size", file),
  };
}

/** TextModel.rope_parameters with the global values mirrored in (base.py TextModel.__init__). */
export function ropeParameters(h: HParams): Record<string, unknown> {
  const rp = { ...((h.rope_parameters ?? h.rope_scaling ?? {}) as Record<string, unknown>) };
  if (!("full_attention" in rp) && !("sliding_attention" in rp)) {
    const theta = ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"]
      .map((k) => h[k])
      .find((v) => v !== undefined);
    if (!("rope_theta" in rp) && theta !== undefined) rp.rope_theta = theta;
    if (!("rope_type" in rp) && rp.type !== undefined) rp.rope_type = rp.type;
    if (!("original_max_position_embeddings" in rp) && h.original_max_position_embeddings !== undefined)
      rp.original_max_position_embeddings = h.original_max_position_embeddings;
  }
  return rp;
}

/** llama3-type rope scaling factors (LlamaModel.generate_extra_tensors), or undefined when not llama3. */
export function llama3RopeFactors(cfg: Llama4Config): Float32Array | undefined {
  const rp0 = ropeParameters(cfg.hparams);
  const rp = (rp0.full_attention as Record<string, unknown> | undefined) ?? rp0;
  if (String(rp.rope_type ?? "").toLowerCase() !== "llama3") return undefined;
  const base = Number(rp.rope_theta ?? 10000);
  const dim = cfg.headDim;
  const factor = Number(rp.factor ?? 8);
  const lowFreqFactor = Number(rp.low_freq_factor ?? 1);
  const highFreqFactor = Number(rp.high_freq_factor ?? 4);
  const oldCtx = Number(rp.original_max_position_embeddings ?? 8192);
  const lowWavelen = oldCtx / lowFreqFactor;
  const highWavelen = oldCtx / highFreqFactor;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    // torch: freqs = 1/(base ** (arange(0, dim, 2, f32) / dim)) in float32
    const expo = Math.fround(Math.fround(2 * i) / dim);
    const freq = Math.fround(1 / Math.fround(Math.pow(base, expo)));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

/** How one GGUF tensor is produced from the checkpoint. */
export type TensorRecipe =
  | { readonly kind: "plain"; readonly src: CheckpointTensor }
  /** expert e's rows = columns [part·ff, (part+1)·ff) of HF [E, hidden, 2ff][e], transposed. */
  | { readonly kind: "gate_up"; readonly src: CheckpointTensor; readonly part: 0 | 1 }
  /** expert e = HF [E, ff, hidden][e] transposed. */
  | { readonly kind: "down"; readonly src: CheckpointTensor }
  /** one HF nn.Linear [ff, hidden] per expert, stacked. */
  | { readonly kind: "stacked"; readonly srcs: readonly CheckpointTensor[] }
  | { readonly kind: "generated"; readonly data: Float32Array };

export interface PlannedTensor {
  readonly name: string;
  /** ggml order. */
  readonly ne: readonly number[];
  readonly recipe: TensorRecipe;
  /** Number of experts (ne[2]) for 3-D expert tensors, else 1. */
  readonly experts: number;
  /** The converter keeps these in F32 whatever --outtype says (1-D, norms, router, non-.weight). */
  readonly forceF32: boolean;
  /** HF dtype of the source (generated tensors: F32). */
  readonly srcDtype: "F32" | "F16" | "BF16";
}

/** Filters in TextModel.filter_tensors: multimodal tensors are not part of the text model. */
export function isMultimodalTensor(name: string): boolean {
  return (
    /^(mlp|vit\.|vpm\.|siglip2\.|conformer\.|merger\.|resampler\.|sound_encoder\.|sound_projection\.|speech_embeddings\.)/.test(name) ||
    [
      "visual.",
      "vision.",
      "audio.",
      "talker.",
      "vision_",
      "audio_",
      "token2wav.",
      "code2wav.",
      "projector.",
      "pre_mm_projector_norm",
      "image_newline",
      "view_seperator",
      "patch_embed",
      "patch_embedding",
      "patch_merger.",
      "patch_merge_mlp.",
      "model.connector.",
    ].some((s) => name.includes(s))
  );
}

const PER_EXPERT = /^model\.layers\.(\d+)\.feed_forward\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/;

/** The text model's GGUF tensors in convert_hf_to_gguf's order (generated rope_freqs first, then checkpoint order). */
export function planLlama4Tensors(cfg: Llama4Config, tensors: readonly CheckpointTensor[], dir: string): PlannedTensor[] {
  const out: PlannedTensor[] = [];
  const rope = llama3RopeFactors(cfg);
  if (rope) out.push({ name: "rope_freqs.weight", ne: [rope.length], recipe: { kind: "generated", data: rope }, experts: 1, forceF32: true, srcDtype: "F32" });
  const perExpert = new Map<string, { layer: number; proj: string; items: Map<number, CheckpointTensor>; slot: number }>();
  for (const t of tensors) {
    if (isMultimodalTensor(t.name)) continue;
    const name = stripLanguageModelPrefix(t.name);
    if (/\.(attention\.masked_bias|attention\.bias|rotary_emb\.inv_freq)$/.test(name)) continue;
    const pe = PER_EXPERT.exec(name);
    if (pe) {
      const key = `${pe[1]}.${pe[3]}`;
      let g = perExpert.get(key);
      if (!g) {
        g = { layer: Number(pe[1]), proj: pe[3], items: new Map(), slot: out.length };
        perExpert.set(key, g);
        out.push(undefined as unknown as PlannedTensor); // placeholder, filled below
      }
      g.items.set(Number(pe[2]), t);
      continue;
    }
    const m = mapLlama4HfName(t.name);
    if (!m) throw new InputError("UNMAPPED_TENSOR", `cannot map tensor ${t.name} to a llama4 GGUF name`, { file: t.file });
    const layout = m.rule.layout;
    if (layout === "plain") {
      const ne = [...t.shape].reverse();
      const gname = m.gguf[0];
      const forceF32 = ne.length <= 1 || gname.endsWith("_norm.weight") || gname.includes("ffn_gate_inp") || !gname.endsWith(".weight");
      out.push({ name: gname, ne, recipe: { kind: "plain", src: t }, experts: 1, forceF32, srcDtype: t.dtype });
    } else if (layout === "gate_up_fused") {
      if (t.shape.length !== 3 || t.shape[2] % 2 !== 0)
        throw new InputError("BAD_SHAPE", `${t.name} has shape [${t.shape}], expected [E, hidden, 2·ff]`, { file: t.file });
      const [E, hidden, ff2] = t.shape;
      for (const part of [0, 1] as const) {
        out.push({ name: m.gguf[part], ne: [hidden, ff2 / 2, E], recipe: { kind: "gate_up", src: t, part }, experts: E, forceF32: false, srcDtype: t.dtype });
      }
    } else {
      if (t.shape.length !== 3) throw new InputError("BAD_SHAPE", `${t.name} has shape [${t.shape}], expected [E, ff, hidden]`, { file: t.file });
      const [E, ff, hidden] = t.shape;
      out.push({ name: m.gguf[0], ne: [ff, hidden, E], recipe: { kind: "down", src: t }, experts: E, forceF32: false, srcDtype: t.dtype });
    }
  }
  for (const g of perExpert.values()) {
    const E = g.items.size;
    const srcs: CheckpointTensor[] = [];
    for (let e = 0; e < E; e++) {
      const s = g.items.get(e);
      if (!s) throw new InputError("MISSING_EXPERT", `layer ${g.layer} ${g.proj}_proj: expert ${e} missing`, { file: dir });
      if (s.shape.length !== 2 || (srcs[0] && (s.shape[0] !== srcs[0].shape[0] || s.shape[1] !== srcs[0].shape[1]))) {
        throw new InputError("BAD_SHAPE", `${s.name} has shape [${s.shape}]`, { file: s.file });
      }
      srcs.push(s);
    }
    const [rows, cols] = srcs[0].shape;
    out[g.slot] = {
      name: `blk.${g.layer}.ffn_${g.proj}_exps.weight`,
      ne: [cols, rows, E],
      recipe: { kind: "stacked", srcs },
      experts: E,
      forceF32: false,
      srcDtype: srcs[0].dtype,
    };
  }
  checkLlama4Tensors(cfg, out, dir);
  return out;
}

/**
 * The tensor set llama.cpp's llama4 loader requires (names and shapes), checked against config.json before anything
 * is written, so a checkpoint that disagrees with its config fails here, naming config.json and the keys involved.
 */
function checkLlama4Tensors(cfg: Llama4Config, tensors: readonly PlannedTensor[], dir: string): void {
  const configFile = join(dir, "config.json");
  const have = new Map(tensors.map((t) => [t.name, t]));
  const { nEmbd, vocabSize, nHead, nHeadKv, headDim, nExpert, nFfExp, nFf } = cfg;
  const keyValue: Record<string, number> = {
    hidden_size: nEmbd,
    vocab_size: vocabSize,
    num_attention_heads: nHead,
    num_key_value_heads: nHeadKv,
    head_dim: headDim,
    num_local_experts: nExpert,
    intermediate_size: nFfExp,
    intermediate_size_mlp: nFf,
  };
  const expect = (name: string, ne: number[], keys: string[], optional = false): void => {
    const t = have.get(name);
    if (!t) {
      if (optional) return;
      throw new InputError("MISSING_TENSOR", `checkpoint has no tensor for ${name}`, { file: dir });
    }
    if (t.ne.length !== ne.length || t.ne.some((v, i) => v !== ne[i])) {
      const said = keys.map((k) => `${k} ${keyValue[k]}`).join(", ");
      throw new InputError("CONFIG_MISMATCH", `disagrees with the checkpoint: ${name} has ne [${t.ne}], but ${said} make it [${ne}]`, { file: configFile });
    }
  };
  const E = ["hidden_size"];
  const V = ["hidden_size", "vocab_size"];
  expect("token_embd.weight", [nEmbd, vocabSize], V);
  expect("output_norm.weight", [nEmbd], E);
  expect("output.weight", [nEmbd, vocabSize], V, true);
  const Q = ["hidden_size", "num_attention_heads", "head_dim"];
  const KV = ["hidden_size", "num_key_value_heads", "head_dim"];
  const X = ["hidden_size", "intermediate_size", "num_local_experts"];
  const SH = ["hidden_size", "intermediate_size"];
  const D = ["hidden_size", "intermediate_size_mlp"];
  for (let il = 0; il < cfg.nLayer; il++) {
    const b = `blk.${il}.`;
    expect(`${b}attn_norm.weight`, [nEmbd], E);
    expect(`${b}attn_q.weight`, [nEmbd, nHead * headDim], Q);
    expect(`${b}attn_k.weight`, [nEmbd, nHeadKv * headDim], KV);
    expect(`${b}attn_v.weight`, [nEmbd, nHeadKv * headDim], KV);
    expect(`${b}attn_output.weight`, [nHead * headDim, nEmbd], Q);
    expect(`${b}ffn_norm.weight`, [nEmbd], E);
    if ((il + 1) % cfg.interleaveMoeLayerStep === 0) {
      expect(`${b}ffn_gate_inp.weight`, [nEmbd, nExpert], ["hidden_size", "num_local_experts"]);
      expect(`${b}ffn_gate_exps.weight`, [nEmbd, nFfExp, nExpert], X);
      expect(`${b}ffn_up_exps.weight`, [nEmbd, nFfExp, nExpert], X);
      expect(`${b}ffn_down_exps.weight`, [nFfExp, nEmbd, nExpert], X);
      expect(`${b}ffn_gate_shexp.weight`, [nEmbd, nFfExp], SH);
      expect(`${b}ffn_up_shexp.weight`, [nEmbd, nFfExp], SH);
      expect(`${b}ffn_down_shexp.weight`, [nFfExp, nEmbd], SH);
    } else {
      expect(`${b}ffn_gate.weight`, [nEmbd, nFf], D);
      expect(`${b}ffn_up.weight`, [nEmbd, nFf], D);
      expect(`${b}ffn_down.weight`, [nFf, nEmbd], D);
    }
  }
  // a layer past num_hidden_layers would be written into the GGUF and never loaded
  for (const t of tensors) {
    const layer = /^blk\.(\d+)\./.exec(t.name);
    if (layer && Number(layer[1]) >= cfg.nLayer) {
      throw new InputError("CONFIG_MISMATCH", `disagrees with the checkpoint: num_hidden_layers ${cfg.nLayer}, but the checkpoint has ${t.name}`, {
        file: configFile,
      });
    }
  }
}

/** gguf-py utility.model_weight_count_rounded_notation */
function roundedNotation(n: number, minDigits = 2): string {
  let scaled: number;
  let suffix: string;
  if (n > 1e12) {
    scaled = n * 1e-12;
    suffix = "T";
  } else if (n > 1e9) {
    scaled = n * 1e-9;
    suffix = "B";
  } else if (n > 1e6) {
    scaled = n * 1e-6;
    suffix = "M";
  } else {
    scaled = n * 1e-3;
    suffix = "K";
  }
  const fix = Math.max(minDigits - String(Math.round(scaled)).replace(/^0+/, "").length, 0);
  return `${scaled.toFixed(fix)}${suffix}`;
}

/** gguf-py size_label over the tensors about to be written (GGUFWriter.get_total_parameter_count). */
export function sizeLabel(tensors: readonly { name: string; ne: readonly number[] }[]): string {
  let shared = 0;
  let expert = 0;
  let expertSum = 0;
  let nExpertTensors = 0;
  for (const t of tensors) {
    const size = t.ne.reduce((a, b) => a * b, 1);
    if (t.name.includes("_exps.") && t.ne.length >= 3) {
      const count = t.ne[2];
      expert += Math.trunc(size / count);
      expertSum += count;
      nExpertTensors++;
    } else shared += size;
  }
  const expertCount = nExpertTensors > 0 ? Math.trunc(expertSum / nExpertTensors) : 0;
  if (expertCount > 0) return `${expertCount}x${roundedNotation(shared + expert)}`;
  return roundedNotation(shared);
}

export interface Llama4KVOptions {
  /** The llama_ftype stored in general.file_type. */
  readonly fileType: number;
  /** Checkpoint directory (its folder name feeds the naming heuristics, as in the converter). */
  readonly dir: string;
  /** The tensors being written (for the parameter count and the size label). */
  readonly tensors: readonly { name: string; ne: readonly number[] }[];
}

/** general.name … general.size_label in set_gguf_meta_model's order. */
export function generalNamingKVs(kv: Map<string, GGUFKV>, raw: HParams, dir: string, tensors: readonly { name: string; ne: readonly number[] }[]): void {
  const total = tensors.reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
  const nameOrPath = typeof raw._name_or_path === "string" ? raw._name_or_path : undefined;
  const n = generalNaming(nameOrPath, basename(dir.replace(/\/+$/, "")), total);
  kv.set("general.name", kvStr(n.name ?? basename(dir)));
  if (n.version !== undefined) kv.set("general.version", kvStr(n.version));
  if (n.organization !== undefined) kv.set("general.organization", kvStr(n.organization));
  if (n.finetune !== undefined) kv.set("general.finetune", kvStr(n.finetune));
  if (n.basename !== undefined) kv.set("general.basename", kvStr(n.basename));
  kv.set("general.size_label", kvStr(n.sizeLabel ?? sizeLabel(tensors)));
}

/**
 * general.* and llama4.* KVs in the converter's order: architecture, type, model-card metadata
 * (sampling from generation_config.json, name, size_label), TextModel.set_gguf_parameters, LlamaModel
 * (vocab_size, rope.dimension_count), Llama4Model (interleave step, expert FFN width, sliding window),
 * general.quantization_version. Tokenizer keys follow (see tokenizerKVs).
 */
export function llama4ModelKVs(cfg: Llama4Config, opts: Llama4KVOptions): Map<string, GGUFKV> {
  const h = cfg.hparams;
  const kv = new Map<string, GGUFKV>();
  const a = "llama4";
  kv.set("general.architecture", kvStr(a));
  kv.set("general.type", kvStr("model"));
  const gen = readGenerationConfig(opts.dir);
  if (gen) {
    if (typeof gen.top_k === "number") kv.set("general.sampling.top_k", kvI32(gen.top_k));
    if (typeof gen.top_p === "number") kv.set("general.sampling.top_p", kvF32(gen.top_p));
    if (typeof gen.min_p === "number") kv.set("general.sampling.min_p", kvF32(gen.min_p));
    if (typeof gen.temperature === "number") kv.set("general.sampling.temp", kvF32(gen.temperature));
    const rep = gen.penalty_repeat ?? gen.repetition_penalty;
    if (typeof rep === "number") kv.set("general.sampling.penalty_repeat", kvF32(rep));
  }
  generalNamingKVs(kv, cfg.raw, opts.dir, opts.tensors);
  kv.set(`${a}.block_count`, kvU32(cfg.nLayer));
  const ctx = ["max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"]
    .map((k) => h[k])
    .find((v) => v !== undefined);
  if (typeof ctx === "number") kv.set(`${a}.context_length`, kvU32(ctx));
  kv.set(`${a}.embedding_length`, kvU32(cfg.nEmbd));
  kv.set(`${a}.feed_forward_length`, kvU32(cfg.nFf));
  kv.set(`${a}.attention.head_count`, kvU32(cfg.nHead));
  if (typeof h.num_key_value_heads === "number") kv.set(`${a}.attention.head_count_kv`, kvU32(h.num_key_value_heads));
  const rp0 = ropeParameters(h);
  const rp = (rp0.full_attention as Record<string, unknown> | undefined) ?? rp0;
  const ropeType = rp.rope_type as string | undefined;
  if (ropeType === "linear" && typeof rp.factor === "number") {
    kv.set(`${a}.rope.scaling.type`, kvStr("linear"));
    kv.set(`${a}.rope.scaling.factor`, kvF32(rp.factor));
  } else if (ropeType === "yarn" && typeof rp.factor === "number") {
    kv.set(`${a}.rope.scaling.type`, kvStr("yarn"));
    kv.set(`${a}.rope.scaling.factor`, kvF32(rp.factor));
    kv.set(`${a}.rope.scaling.original_context_length`, kvU32(Number(rp.original_max_position_embeddings)));
  }
  if (typeof rp.rope_theta === "number") kv.set(`${a}.rope.freq_base`, kvF32(rp.rope_theta));
  const swa = (rp0.sliding_attention as Record<string, unknown> | undefined)?.rope_theta;
  if (typeof swa === "number") kv.set(`${a}.rope.freq_base_swa`, kvF32(swa));
  const rms = h.rms_norm_eps ?? h.norm_eps;
  if (typeof rms === "number") kv.set(`${a}.attention.layer_norm_rms_epsilon`, kvF32(rms));
  const ln = h.layer_norm_eps ?? h.layer_norm_epsilon ?? h.norm_epsilon;
  if (typeof ln === "number") kv.set(`${a}.attention.layer_norm_epsilon`, kvF32(ln));
  kv.set(`${a}.expert_count`, kvU32(cfg.nExpert));
  const used = h.num_experts_per_tok ?? h.num_experts_per_token ?? h.top_k_experts;
  if (typeof used === "number") kv.set(`${a}.expert_used_count`, kvU32(used));
  if (typeof h.head_dim === "number") {
    kv.set(`${a}.attention.key_length`, kvU32(h.head_dim));
    kv.set(`${a}.attention.value_length`, kvU32(h.head_dim));
  }
  kv.set("general.file_type", kvU32(opts.fileType));
  kv.set(`${a}.vocab_size`, kvU32(cfg.vocabSize));
  kv.set(`${a}.rope.dimension_count`, kvU32(cfg.headDim));
  kv.set(`${a}.interleave_moe_layer_step`, kvU32(cfg.interleaveMoeLayerStep));
  kv.set(`${a}.expert_feed_forward_length`, kvU32(cfg.nFfExp));
  const lt = h.layer_types;
  if (Array.isArray(lt) && lt.every((x) => x === "full_attention")) kv.set(`${a}.attention.sliding_window`, kvU32(0));
  kv.set("general.quantization_version", kvU32(2));
  return kv;
}

function readGenerationConfig(dir: string): Record<string, unknown> | undefined {
  const f = join(dir, "generation_config.json");
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new InputError("BAD_JSON", `not valid JSON: ${(e as Error).message}`, { file: f });
  }
}
