/**
 * Random Llama 4 checkpoints in the exact Hugging Face layouts, at small dims, for structural tests of the
 * converter: "scout" (every layer MoE, 16 experts by default), "maverick" (MoE every 2nd layer, 128 experts
 * by default), fused experts (`experts.gate_up_proj` [E, hidden, 2ff], `experts.down_proj` [E, ff, hidden])
 * or per-expert unfused (`experts.N.{gate,up,down}_proj.weight`), multimodal (`language_model.` prefix +
 * vision tower) or text-only (Llama4ForCausalLM). Tensors are streamed to disk, so multi-GB checkpoints
 * (the RSS bench) never sit in memory. The tokenizer files are copied from fixtures/tiny-llama4.
 */
import { copyFileSync, existsSync, mkdirSync, openSync, writeSync, closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bf16ToF32, f32ToBf16 } from "@moeq/formats";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export interface SyntheticLlama4Options {
  readonly layout: "scout" | "maverick";
  readonly hidden?: number;
  readonly ffExpert?: number;
  readonly ffDense?: number;
  readonly layers?: number;
  readonly experts?: number;
  readonly heads?: number;
  readonly kvHeads?: number;
  readonly headDim?: number;
  /** Llama4ForConditionalGeneration with a tiny vision tower (default) or Llama4ForCausalLM. */
  readonly multimodal?: boolean;
  /** Per-expert `experts.N.*_proj.weight` tensors instead of the fused parameters. */
  readonly perExpert?: boolean;
  /** Split tensors over this many shards with model.safetensors.index.json (default 1). */
  readonly shards?: number;
  readonly seed?: number;
  /** Where tokenizer.json etc. are copied from (default fixtures/tiny-llama4). */
  readonly tokenizerFrom?: string;
}

export interface SyntheticTensor {
  readonly name: string;
  readonly shape: number[];
}

export function syntheticLlama4Tensors(o: SyntheticLlama4Options): { tensors: SyntheticTensor[]; config: Record<string, unknown> } {
  const hidden = o.hidden ?? 64;
  const ff = o.ffExpert ?? 64;
  const ffDense = o.ffDense ?? 128;
  const layers = o.layers ?? (o.layout === "scout" ? 2 : 4);
  const experts = o.experts ?? (o.layout === "scout" ? 16 : 128);
  const heads = o.heads ?? 4;
  const kvHeads = o.kvHeads ?? 2;
  const headDim = o.headDim ?? hidden / heads;
  const step = o.layout === "scout" ? 1 : 2;
  const vocab = 3200;
  const mm = o.multimodal ?? true;
  const p = mm ? "language_model." : "";
  const t: SyntheticTensor[] = [];
  t.push({ name: `${p}model.embed_tokens.weight`, shape: [vocab, hidden] });
  t.push({ name: `${p}model.norm.weight`, shape: [hidden] });
  t.push({ name: `${p}lm_head.weight`, shape: [vocab, hidden] });
  for (let l = 0; l < layers; l++) {
    const b = `${p}model.layers.${l}.`;
    t.push({ name: `${b}input_layernorm.weight`, shape: [hidden] });
    t.push({ name: `${b}post_attention_layernorm.weight`, shape: [hidden] });
    t.push({ name: `${b}self_attn.q_proj.weight`, shape: [heads * headDim, hidden] });
    t.push({ name: `${b}self_attn.k_proj.weight`, shape: [kvHeads * headDim, hidden] });
    t.push({ name: `${b}self_attn.v_proj.weight`, shape: [kvHeads * headDim, hidden] });
    t.push({ name: `${b}self_attn.o_proj.weight`, shape: [hidden, heads * headDim] });
    if ((l + 1) % step === 0) {
      t.push({ name: `${b}feed_forward.router.weight`, shape: [experts, hidden] });
      t.push({ name: `${b}feed_forward.shared_expert.gate_proj.weight`, shape: [ff, hidden] });
      t.push({ name: `${b}feed_forward.shared_expert.up_proj.weight`, shape: [ff, hidden] });
      t.push({ name: `${b}feed_forward.shared_expert.down_proj.weight`, shape: [hidden, ff] });
      if (o.perExpert) {
        for (let e = 0; e < experts; e++) {
          t.push({ name: `${b}feed_forward.experts.${e}.gate_proj.weight`, shape: [ff, hidden] });
          t.push({ name: `${b}feed_forward.experts.${e}.up_proj.weight`, shape: [ff, hidden] });
          t.push({ name: `${b}feed_forward.experts.${e}.down_proj.weight`, shape: [hidden, ff] });
        }
      } else {
        t.push({ name: `${b}feed_forward.experts.gate_up_proj`, shape: [experts, hidden, 2 * ff] });
        t.push({ name: `${b}feed_forward.experts.down_proj`, shape: [experts, ff, hidden] });
      }
    } else {
      t.push({ name: `${b}feed_forward.gate_proj.weight`, shape: [ffDense, hidden] });
      t.push({ name: `${b}feed_forward.up_proj.weight`, shape: [ffDense, hidden] });
      t.push({ name: `${b}feed_forward.down_proj.weight`, shape: [hidden, ffDense] });
    }
  }
  const vh = 64;
  if (mm) {
    t.push({ name: "vision_model.patch_embedding.linear.weight", shape: [vh, 3 * 16 * 16] });
    t.push({ name: "vision_model.class_embedding", shape: [vh] });
    t.push({ name: "vision_model.positional_embedding_vlm", shape: [65, vh] });
    t.push({ name: "vision_model.layernorm_pre.weight", shape: [vh] });
    t.push({ name: "vision_model.layernorm_pre.bias", shape: [vh] });
    t.push({ name: "vision_model.layernorm_post.weight", shape: [vh] });
    t.push({ name: "vision_model.layernorm_post.bias", shape: [vh] });
    for (const n of ["q_proj", "k_proj", "v_proj", "o_proj"]) {
      t.push({ name: `vision_model.model.layers.0.self_attn.${n}.weight`, shape: [vh, vh] });
      t.push({ name: `vision_model.model.layers.0.self_attn.${n}.bias`, shape: [vh] });
    }
    for (const n of ["input_layernorm", "post_attention_layernorm"]) {
      t.push({ name: `vision_model.model.layers.0.${n}.weight`, shape: [vh] });
      t.push({ name: `vision_model.model.layers.0.${n}.bias`, shape: [vh] });
    }
    t.push({ name: "vision_model.model.layers.0.mlp.fc1.weight", shape: [4 * vh, vh] });
    t.push({ name: "vision_model.model.layers.0.mlp.fc1.bias", shape: [4 * vh] });
    t.push({ name: "vision_model.model.layers.0.mlp.fc2.weight", shape: [vh, 4 * vh] });
    t.push({ name: "vision_model.model.layers.0.mlp.fc2.bias", shape: [vh] });
    t.push({ name: "vision_model.vision_adapter.mlp.fc1.weight", shape: [hidden, vh * 4] });
    t.push({ name: "vision_model.vision_adapter.mlp.fc2.weight", shape: [hidden, hidden] });
    t.push({ name: "multi_modal_projector.linear_1.weight", shape: [hidden, hidden] });
  }
  const text: Record<string, unknown> = {
    bos_token_id: 3072,
    eos_token_id: [3073, 3079, 3080],
    pad_token_id: 3090,
    head_dim: headDim,
    hidden_act: "silu",
    hidden_size: hidden,
    interleave_moe_layer_step: step,
    intermediate_size: ff,
    intermediate_size_mlp: ffDense,
    max_position_embeddings: 4096,
    model_type: "llama4_text",
    num_attention_heads: heads,
    num_experts_per_tok: 1,
    num_hidden_layers: layers,
    num_key_value_heads: kvHeads,
    num_local_experts: experts,
    rms_norm_eps: 1e-5,
    rope_scaling: { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
    rope_theta: 500000.0,
    use_qk_norm: o.layout === "scout",
    vocab_size: vocab,
    torch_dtype: "bfloat16",
  };
  const config: Record<string, unknown> = mm
    ? {
        architectures: ["Llama4ForConditionalGeneration"],
        model_type: "llama4",
        text_config: text,
        tie_word_embeddings: false,
        vision_config: {
          hidden_act: "gelu",
          hidden_size: vh,
          image_size: 128,
          intermediate_size: 4 * vh,
          norm_eps: 1e-5,
          num_attention_heads: 4,
          num_channels: 3,
          num_hidden_layers: 1,
          patch_size: 16,
          pixel_shuffle_ratio: 0.5,
          projector_input_dim: hidden,
          projector_output_dim: hidden,
          rope_theta: 10000,
          vision_output_dim: hidden,
          model_type: "llama4_vision_model",
        },
      }
    : { architectures: ["Llama4ForCausalLM"], ...text };
  return { tensors: t, config };
}

/** Deterministic bf16 value of element `i` of tensor number `k` (tests recompute expected values with it). */
export function syntheticValue(seed: number, k: number, i: number): number {
  // a cheap hash → [-0.05, 0.05), then bf16-rounded by the writer
  let h = (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(k + 1, 0x165667b1) ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h ^= h >>> 12;
  return ((h >>> 0) / 4294967296 - 0.5) * 0.1;
}

/** Writes the checkpoint into `dir`; returns its tensors in file order. */
export function writeSyntheticLlama4(dir: string, o: SyntheticLlama4Options): SyntheticTensor[] {
  mkdirSync(dir, { recursive: true });
  const { tensors, config } = syntheticLlama4Tensors(o);
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  const fx = o.tokenizerFrom ?? join(repoRoot, "fixtures", "tiny-llama4");
  const extra = (o.multimodal ?? true) ? ["preprocessor_config.json", "processor_config.json"] : [];
  for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", ...extra]) {
    if (existsSync(join(fx, f))) copyFileSync(join(fx, f), join(dir, f));
  }
  const seed = o.seed ?? 1;
  const nShards = o.shards ?? 1;
  const per = Math.ceil(tensors.length / nShards);
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < nShards; s++) {
    const part = tensors.slice(s * per, (s + 1) * per);
    const fname = nShards === 1 ? "model.safetensors" : `model-${String(s + 1).padStart(5, "0")}-of-${String(nShards).padStart(5, "0")}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    let off = 0;
    for (const t of part) {
      const n = t.shape.reduce((a, b) => a * b, 1) * 2;
      header[t.name] = { dtype: "BF16", shape: t.shape, data_offsets: [off, off + n] };
      off += n;
      weightMap[t.name] = fname;
    }
    let hjson = JSON.stringify(header);
    hjson += " ".repeat((8 - (hjson.length % 8)) % 8);
    const fd = openSync(join(dir, fname), "w");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(hjson)));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(hjson));
    for (const t of part) {
      const k = tensors.indexOf(t);
      const n = t.shape.reduce((a, b) => a * b, 1);
      const isNorm = t.shape.length === 1;
      const chunk = new Uint16Array(Math.min(n, 1 << 20));
      for (let i0 = 0; i0 < n; i0 += chunk.length) {
        const m = Math.min(chunk.length, n - i0);
        for (let i = 0; i < m; i++) chunk[i] = f32ToBf16(isNorm ? 1 + syntheticValue(seed, k, i0 + i) : syntheticValue(seed, k, i0 + i));
        writeSync(fd, new Uint8Array(chunk.buffer, 0, m * 2));
      }
    }
    closeSync(fd);
  }
  if (nShards > 1) writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  return tensors;
}

/** bf16-rounded value as the checkpoint stores it (for expected-value checks). */
export function syntheticStoredValue(seed: number, k: number, i: number, isNorm: boolean): number {
  const v = isNorm ? 1 + syntheticValue(seed, k, i) : syntheticValue(seed, k, i);
  return bf16ToF32(f32ToBf16(v));
}

/**
 * The smallest text-only Scout-layout checkpoint the sharded gptq tests run (hidden 64, 2 layers, 2 experts): a whole
 * `moeq gptq` over it takes about a second.
 */
export const TINY_GPTQ_SCOUT: SyntheticLlama4Options = {
  layout: "scout",
  hidden: 64,
  ffExpert: 64,
  ffDense: 128,
  heads: 4,
  kvHeads: 2,
  multimodal: false,
  layers: 2,
  experts: 2,
  seed: 9,
};
