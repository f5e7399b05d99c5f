/**
 * Llama 4 text-model hyper-parameters, read once into a frozen object.
 * From HF `config.json` every rule comes from the file (so a variant config with a small chunk size is honoured);
 * from GGUF the values llama.cpp hard-codes in `llama_model_llama4::load_arch_hparams` are reproduced.
 */
import { InputError } from "@moeq/formats";

export interface Llama3RopeScaling {
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalMaxPositionEmbeddings: number;
}

export interface Llama4TextConfig {
  readonly hiddenSize: number;
  /** Routed- and shared-expert FFN width (HF `intermediate_size`, GGUF `expert_feed_forward_length`). */
  readonly expertFfSize: number;
  /** Dense FFN width (HF `intermediate_size_mlp`, GGUF `feed_forward_length`). */
  readonly denseFfSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly numExperts: number;
  readonly expertsPerToken: number;
  /** Per layer: true when the FFN is the MoE block. */
  readonly moeLayers: readonly boolean[];
  /** Per layer: true when the layer applies RoPE (and chunked attention); false = NoPE, full attention. */
  readonly ropeLayers: readonly boolean[];
  /** Chunk size of local attention on RoPE layers; null = full causal attention everywhere. */
  readonly attentionChunkSize: number | null;
  readonly useQkNorm: boolean;
  readonly attnTemperatureTuning: boolean;
  readonly floorScale: number;
  readonly attnScale: number;
  readonly ropeTheta: number;
  readonly ropeScaling: Llama3RopeScaling | null;
  readonly rmsNormEps: number;
  readonly vocabSize: number;
  readonly maxPositionEmbeddings: number;
}

type Json = Record<string, unknown>;

function num(obj: Json, key: string, file: string, fallback?: number): number {
  const v = obj[key];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new InputError("CONFIG_MISSING_KEY", `text config has no "${key}"`, { file, details: { key } });
  }
  throw new InputError("CONFIG_BAD_VALUE", `text config "${key}" is not a number (${JSON.stringify(v)})`, { file, details: { key } });
}

function positive(value: number, key: string, file: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InputError("CONFIG_BAD_VALUE", `"${key}" must be a positive integer, got ${value}`, { file, details: { key, value } });
  }
  return value;
}

/** Parses an HF Llama 4 config.json (top-level `Llama4ForConditionalGeneration` or text-only `llama4_text`). */
export function llama4ConfigFromHf(json: unknown, file: string): Llama4TextConfig {
  if (typeof json !== "object" || json === null) throw new InputError("CONFIG_BAD_JSON", "config is not a JSON object", { file });
  const top = json as Json;
  const text = (typeof top.text_config === "object" && top.text_config !== null ? top.text_config : top) as Json;
  const numLayers = positive(num(text, "num_hidden_layers", file), "num_hidden_layers", file);
  const hiddenSize = positive(num(text, "hidden_size", file), "hidden_size", file);
  const numHeads = positive(num(text, "num_attention_heads", file), "num_attention_heads", file);
  const numKvHeads = positive(num(text, "num_key_value_heads", file, numHeads), "num_key_value_heads", file);
  if (numHeads % numKvHeads !== 0) {
    throw new InputError("CONFIG_BAD_VALUE", `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`, { file });
  }
  const headDim = positive(num(text, "head_dim", file, hiddenSize / numHeads), "head_dim", file);
  const step = positive(num(text, "interleave_moe_layer_step", file, 1), "interleave_moe_layer_step", file);
  // Transformers: moe_layers defaults to range(step-1, L, step).
  const moeList = Array.isArray(text.moe_layers) ? (text.moe_layers as number[]) : undefined;
  const moeLayers = Array.from({ length: numLayers }, (_, i) => (moeList ? moeList.includes(i) : (i + 1) % step === 0));
  // Transformers: no_rope_layers[i] == 1 means the layer uses RoPE; default every `no_rope_layer_interval`-th is NoPE.
  const interval = positive(num(text, "no_rope_layer_interval", file, 4), "no_rope_layer_interval", file);
  const noRope = Array.isArray(text.no_rope_layers) && (text.no_rope_layers as unknown[]).length > 0 ? (text.no_rope_layers as number[]) : undefined;
  if (noRope && noRope.length !== numLayers) {
    throw new InputError("CONFIG_BAD_VALUE", `no_rope_layers has ${noRope.length} entries for ${numLayers} layers`, { file });
  }
  const ropeLayers = Array.from({ length: numLayers }, (_, i) => (noRope ? noRope[i] !== 0 : (i + 1) % interval !== 0));
  const chunk = text.attention_chunk_size;
  const rs = text.rope_scaling as Json | null | undefined;
  let ropeScaling: Llama3RopeScaling | null = null;
  if (rs && typeof rs === "object") {
    const kind = (rs.rope_type ?? rs.type) as string | undefined;
    if (kind !== "llama3") {
      throw new InputError("CONFIG_UNSUPPORTED", `rope_scaling type "${kind}" is not supported (only llama3)`, { file });
    }
    ropeScaling = {
      factor: num(rs, "factor", file),
      lowFreqFactor: num(rs, "low_freq_factor", file),
      highFreqFactor: num(rs, "high_freq_factor", file),
      originalMaxPositionEmbeddings: num(rs, "original_max_position_embeddings", file),
    };
  }
  const tuning = text.attn_temperature_tuning;
  return Object.freeze({
    hiddenSize,
    expertFfSize: positive(num(text, "intermediate_size", file), "intermediate_size", file),
    denseFfSize: num(text, "intermediate_size_mlp", file, num(text, "intermediate_size", file)),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    numExperts: positive(num(text, "num_local_experts", file), "num_local_experts", file),
    expertsPerToken: positive(num(text, "num_experts_per_tok", file, 1), "num_experts_per_tok", file),
    moeLayers: Object.freeze(moeLayers),
    ropeLayers: Object.freeze(ropeLayers),
    attentionChunkSize: typeof chunk === "number" && chunk > 0 ? chunk : null,
    useQkNorm: text.use_qk_norm === undefined ? true : Boolean(text.use_qk_norm),
    attnTemperatureTuning: tuning === undefined ? true : Boolean(tuning),
    floorScale: num(text, "floor_scale", file, 8192),
    attnScale: num(text, "attn_scale", file, 0.1),
    ropeTheta: num(text, "rope_theta", file, 500000),
    ropeScaling,
    rmsNormEps: num(text, "rms_norm_eps", file, 1e-5),
    vocabSize: positive(num(text, "vocab_size", file), "vocab_size", file),
    maxPositionEmbeddings: num(text, "max_position_embeddings", file, 8192),
  });
}

/** Reads a GGUF metadata value; `get` returns undefined for a missing key. */
export type GgufMetaGetter = (key: string) => unknown;

function ggufNum(get: GgufMetaGetter, key: string, file: string, fallback?: number): number {
  const v = get(key);
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n === "number" && Number.isFinite(n)) return n;
  if (Array.isArray(n) && typeof n[0] === "number") return n[0] as number;
  if (n === undefined && fallback !== undefined) return fallback;
  throw new InputError("GGUF_MISSING_KEY", `GGUF has no usable "${key}"`, { file, details: { key } });
}

/**
 * Config for a `llama4` GGUF, with llama.cpp's hard-coded values: chunked attention of 8192 on layers with
 * il % 4 < 3 (none when `attention.sliding_window` is stored as 0), temperature tuning with floor 8192 and scale 0.1,
 * NoPE every 4th layer, qk-norm unless the model has 128 experts. RoPE scaling lives in the `rope_freqs` tensor
 * (passed to the forward separately), so `ropeScaling` is null here.
 */
export function llama4ConfigFromGguf(get: GgufMetaGetter, file: string, vocabSizeFromTensors: number): Llama4TextConfig {
  const arch = get("general.architecture");
  if (arch !== "llama4") {
    throw new InputError("GGUF_WRONG_ARCH", `general.architecture is "${String(arch)}", expected "llama4"`, { file });
  }
  const k = (s: string) => `llama4.${s}`;
  const numLayers = ggufNum(get, k("block_count"), file);
  const hiddenSize = ggufNum(get, k("embedding_length"), file);
  const numHeads = ggufNum(get, k("attention.head_count"), file);
  const numKvHeads = ggufNum(get, k("attention.head_count_kv"), file, numHeads);
  const headDim = ggufNum(get, k("attention.key_length"), file, hiddenSize / numHeads);
  const numExperts = ggufNum(get, k("expert_count"), file);
  if (numExperts <= 0) throw new InputError("GGUF_BAD_VALUE", "llama4.expert_count is 0", { file });
  const step = ggufNum(get, k("interleave_moe_layer_step"), file);
  const sw = get(k("attention.sliding_window"));
  const noSwa = sw !== undefined && Number(sw) === 0;
  // llama.cpp: with sliding_window == 0 the NoPE step becomes n_layer (only the last layer skips RoPE).
  const noRopeStep = noSwa ? numLayers : 4;
  const swaPeriod = ggufNum(get, k("attention.sliding_window_pattern"), file, 4);
  const ropeLayers = Array.from({ length: numLayers }, (_, i) => (i + 1) % noRopeStep !== 0);
  // llama.cpp masks by its own SWA pattern (il % period < period-1); with the defaults that equals the RoPE layers.
  for (let i = 0; i < numLayers && !noSwa; i++) {
    if (i % swaPeriod < swaPeriod - 1 !== ropeLayers[i]) {
      throw new InputError("GGUF_UNSUPPORTED", `sliding_window_pattern ${swaPeriod} does not match the NoPE layers`, { file });
    }
  }
  return Object.freeze({
    hiddenSize,
    expertFfSize: ggufNum(get, k("expert_feed_forward_length"), file),
    denseFfSize: ggufNum(get, k("feed_forward_length"), file),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    numExperts,
    expertsPerToken: ggufNum(get, k("expert_used_count"), file, 1),
    moeLayers: Object.freeze(Array.from({ length: numLayers }, (_, i) => (i + 1) % step === 0)),
    ropeLayers: Object.freeze(ropeLayers),
    attentionChunkSize: noSwa ? null : 8192,
    useQkNorm: numExperts !== 128,
    attnTemperatureTuning: true,
    floorScale: 8192,
    attnScale: 0.1,
    ropeTheta: ggufNum(get, k("rope.freq_base"), file, 10000),
    ropeScaling: null,
    rmsNormEps: ggufNum(get, k("attention.layer_norm_rms_epsilon"), file),
    vocabSize: vocabSizeFromTensors,
    maxPositionEmbeddings: ggufNum(get, k("context_length"), file),
  });
}

/**
 * RoPE inverse frequencies, one per rotated pair: θ^(−2i/d), with llama3 scaling (Transformers
 * `_compute_llama3_parameters`) or GGUF `rope_freqs` factors (ggml divides θ by the factor). Computed in f32
 * like torch does. The llama3 blend band is empty when low == high freq factor; the guard avoids its 0/0.
 */
export function ropeInvFreq(cfg: Llama4TextConfig, freqFactors?: Float32Array): Float32Array {
  const half = cfg.headDim / 2;
  const out = new Float32Array(half);
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const expo = f(f(2 * i) / cfg.headDim);
    out[i] = f(1 / f(Math.pow(cfg.ropeTheta, expo)));
  }
  if (freqFactors) {
    if (freqFactors.length !== half) throw new InputError("GGUF_BAD_TENSOR", `rope_freqs has ${freqFactors.length} factors, expected ${half}`);
    for (let i = 0; i < half; i++) out[i] = f(out[i] / freqFactors[i]);
  } else if (cfg.ropeScaling) {
    const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: L0 } = cfg.ropeScaling;
    const lowWavelen = L0 / low;
    const highWavelen = L0 / high;
    for (let i = 0; i < half; i++) {
      const inv = out[i];
      const wavelen = (2 * Math.PI) / inv;
      if (wavelen > lowWavelen) out[i] = f(inv / factor);
      else if (wavelen < highWavelen || high === low) out[i] = inv;
      else {
        const s = (L0 / wavelen - low) / (high - low);
        out[i] = f((1 - s) * (inv / factor) + s * inv);
      }
    }
  }
  return out;
}
