// Test helper: a seeded random Llama 4 checkpoint in HF layout (BF16 safetensors with fused experts, the fixture's
// config shape and tokenizer), small enough to build in milliseconds. Not part of the package build.
import { mkdirSync, writeFileSync, copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { f32ToBf16, seededRandom } from "@moeq/formats";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const FIXTURE_DIR = join(repoRoot, "fixtures", "tiny-llama4");

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export interface RandomCheckpointOptions {
  seed?: number;
  std?: number;
  /** Overrides merged into text_config. */
  text?: Record<string, unknown>;
  /** Include the fixture's vision tower (random weights). */
  vision?: boolean;
}

/** Writes config.json, model.safetensors and the fixture tokenizer files into `dir`; returns the config. */
export function writeRandomCheckpoint(dir: string, opts: RandomCheckpointOptions = {}): Record<string, unknown> {
  mkdirSync(dir, { recursive: true });
  const r = seededRandom(opts.seed ?? 1);
  const std = opts.std ?? 0.03;
  const vocab = 3200;
  const text: Record<string, unknown> = {
    attention_chunk_size: 8192,
    attn_scale: 0.1,
    attn_temperature_tuning: true,
    bos_token_id: 3072,
    eos_token_id: [3073, 3079, 3080],
    floor_scale: 8192,
    head_dim: 64,
    hidden_act: "silu",
    hidden_size: 128,
    interleave_moe_layer_step: 2,
    intermediate_size: 128,
    intermediate_size_mlp: 256,
    max_position_embeddings: 4096,
    model_type: "llama4_text",
    num_attention_heads: 4,
    num_experts_per_tok: 1,
    num_hidden_layers: 4,
    num_key_value_heads: 2,
    num_local_experts: 4,
    rms_norm_eps: 1e-5,
    rope_scaling: { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
    rope_theta: 500000.0,
    use_qk_norm: true,
    vocab_size: vocab,
    ...opts.text,
  };
  const num = (k: string) => text[k] as number;
  const vision = {
    hidden_act: "gelu",
    hidden_size: 64,
    image_size: 64,
    intermediate_size: 256,
    num_attention_heads: 2,
    num_channels: 3,
    num_hidden_layers: 1,
    patch_size: 16,
    pixel_shuffle_ratio: 0.5,
    projector_input_dim: 64,
    projector_output_dim: 64,
    rope_theta: 10000,
    vision_output_dim: 64,
    norm_eps: 1e-5,
  };
  const config: Record<string, unknown> = {
    architectures: ["Llama4ForConditionalGeneration"],
    model_type: "llama4",
    image_token_index: 3164,
    boi_token_index: 3152,
    eoi_token_index: 3153,
    tie_word_embeddings: false,
    text_config: text,
    ...(opts.vision ? { vision_config: vision } : {}),
  };
  const H = num("hidden_size"),
    F = num("intermediate_size"),
    Fd = num("intermediate_size_mlp"),
    E = num("num_local_experts");
  const q = num("num_attention_heads") * num("head_dim"),
    kv = num("num_key_value_heads") * num("head_dim");
  const tensors: [string, number[], "randn" | "ones" | "zeros", number?][] = [
    ["language_model.model.embed_tokens.weight", [vocab, H], "randn", 1],
    ["language_model.model.norm.weight", [H], "ones"],
    ["language_model.lm_head.weight", [vocab, H], "randn"],
  ];
  const moeLayers = (text.moe_layers as number[] | undefined) ?? [];
  for (let l = 0; l < num("num_hidden_layers"); l++) {
    const p = `language_model.model.layers.${l}`;
    tensors.push([`${p}.input_layernorm.weight`, [H], "ones"], [`${p}.post_attention_layernorm.weight`, [H], "ones"]);
    tensors.push([`${p}.self_attn.q_proj.weight`, [q, H], "randn"], [`${p}.self_attn.k_proj.weight`, [kv, H], "randn"]);
    tensors.push([`${p}.self_attn.v_proj.weight`, [kv, H], "randn"], [`${p}.self_attn.o_proj.weight`, [H, q], "randn"]);
    const moe = moeLayers.length ? moeLayers.includes(l) : (l + 1) % num("interleave_moe_layer_step") === 0;
    if (moe) {
      tensors.push([`${p}.feed_forward.router.weight`, [E, H], "randn", 0.3]);
      tensors.push([`${p}.feed_forward.experts.gate_up_proj`, [E, H, 2 * F], "randn"], [`${p}.feed_forward.experts.down_proj`, [E, F, H], "randn"]);
      for (const n of ["gate", "up"]) tensors.push([`${p}.feed_forward.shared_expert.${n}_proj.weight`, [F, H], "randn"]);
      tensors.push([`${p}.feed_forward.shared_expert.down_proj.weight`, [H, F], "randn"]);
    } else {
      for (const n of ["gate", "up"]) tensors.push([`${p}.feed_forward.${n}_proj.weight`, [Fd, H], "randn"]);
      tensors.push([`${p}.feed_forward.down_proj.weight`, [H, Fd], "randn"]);
    }
  }
  if (opts.vision) {
    const vh = vision.hidden_size,
      vi = vision.intermediate_size,
      P = vision.patch_size;
    const n = (vision.image_size / P) ** 2 + 1;
    tensors.push(["vision_model.patch_embedding.linear.weight", [vh, 3 * P * P], "randn"], ["vision_model.class_embedding", [vh], "randn", 0.1]);
    tensors.push(["vision_model.positional_embedding_vlm", [n, vh], "randn", 0.1]);
    for (const ln of ["layernorm_pre", "layernorm_post"]) tensors.push([`vision_model.${ln}.weight`, [vh], "ones"], [`vision_model.${ln}.bias`, [vh], "zeros"]);
    for (let l = 0; l < vision.num_hidden_layers; l++) {
      const p = `vision_model.model.layers.${l}`;
      for (const m of ["q", "k", "v", "o"])
        tensors.push([`${p}.self_attn.${m}_proj.weight`, [vh, vh], "randn"], [`${p}.self_attn.${m}_proj.bias`, [vh], "randn"]);
      tensors.push(
        [`${p}.mlp.fc1.weight`, [vi, vh], "randn"],
        [`${p}.mlp.fc1.bias`, [vi], "randn"],
        [`${p}.mlp.fc2.weight`, [vh, vi], "randn"],
        [`${p}.mlp.fc2.bias`, [vh], "randn"],
      );
      for (const ln of ["input_layernorm", "post_attention_layernorm"]) tensors.push([`${p}.${ln}.weight`, [vh], "ones"], [`${p}.${ln}.bias`, [vh], "zeros"]);
    }
    tensors.push(["vision_model.vision_adapter.mlp.fc1.weight", [vision.projector_input_dim, vi], "randn"]);
    tensors.push(["vision_model.vision_adapter.mlp.fc2.weight", [vision.projector_output_dim, vision.projector_output_dim], "randn"]);
    tensors.push(["multi_modal_projector.linear_1.weight", [H, vision.vision_output_dim], "randn"]);
  }
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const blobs: Uint16Array[] = [];
  let off = 0;
  for (const [name, shape, init, scale] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Uint16Array(n);
    for (let i = 0; i < n; i++) data[i] = f32ToBf16(init === "ones" ? 1 : init === "zeros" ? 0 : gaussian(r) * (scale ?? std));
    header[name] = { dtype: "BF16", shape, data_offsets: [off, off + n * 2] };
    off += n * 2;
    blobs.push(data);
  }
  let h = Buffer.from(JSON.stringify(header));
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(join(dir, "model.safetensors"), Buffer.concat([len, h, ...blobs.map((b) => Buffer.from(b.buffer))]));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 1));
  if (opts.vision) {
    const pre = { image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], max_patches: 16, size: { height: vision.image_size, width: vision.image_size } };
    writeFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(pre, null, 1));
  }
  for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"]) {
    if (existsSync(join(FIXTURE_DIR, f))) copyFileSync(join(FIXTURE_DIR, f), join(dir, f));
  }
  return config;
}
