/**
 * Llama 4 tensor names: Hugging Face checkpoint names ↔ GGUF names, as one table.
 * Follows llama.cpp's converter (conversion/llama.py `Llama4Model`, gguf-py tensor_mapping "llama4" rows):
 * the `language_model.` prefix is stripped, vision/projector tensors are not part of the text model, and the fused
 * expert tensors are re-laid out (see `ExpertLayout`). Both the runtime (loading HF safetensors) and the converter
 * (writing GGUF) read this table, so a name is defined once.
 */

/** How an HF tensor becomes GGUF tensor(s). */
export type ExpertLayout =
  /** Stored as-is: HF [out, in] row-major == GGUF ne [in, out]. */
  | "plain"
  /** HF `experts.gate_up_proj` [E, hidden, 2·ff]: transpose last two dims, rows [0,ff) → gate, [ff,2ff) → up; each GGUF ne [hidden, ff, E]. */
  | "gate_up_fused"
  /** HF `experts.down_proj` [E, ff, hidden]: transpose last two dims → GGUF ne [ff, hidden, E]. */
  | "down_fused";

export interface Llama4NameRule {
  /** HF name (after stripping `language_model.`), `{bid}` stands for the layer index. */
  readonly hf: string;
  /** GGUF name(s); two for the fused gate/up tensor (gate first). */
  readonly gguf: readonly string[];
  readonly layout: ExpertLayout;
}

export const LLAMA4_TEXT_NAME_RULES: readonly Llama4NameRule[] = [
  { hf: "model.embed_tokens.weight", gguf: ["token_embd.weight"], layout: "plain" },
  { hf: "model.norm.weight", gguf: ["output_norm.weight"], layout: "plain" },
  { hf: "lm_head.weight", gguf: ["output.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.input_layernorm.weight", gguf: ["blk.{bid}.attn_norm.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.self_attn.q_proj.weight", gguf: ["blk.{bid}.attn_q.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.self_attn.k_proj.weight", gguf: ["blk.{bid}.attn_k.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.self_attn.v_proj.weight", gguf: ["blk.{bid}.attn_v.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.self_attn.o_proj.weight", gguf: ["blk.{bid}.attn_output.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.post_attention_layernorm.weight", gguf: ["blk.{bid}.ffn_norm.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.router.weight", gguf: ["blk.{bid}.ffn_gate_inp.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.shared_expert.gate_proj.weight", gguf: ["blk.{bid}.ffn_gate_shexp.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.shared_expert.up_proj.weight", gguf: ["blk.{bid}.ffn_up_shexp.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.shared_expert.down_proj.weight", gguf: ["blk.{bid}.ffn_down_shexp.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.gate_proj.weight", gguf: ["blk.{bid}.ffn_gate.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.up_proj.weight", gguf: ["blk.{bid}.ffn_up.weight"], layout: "plain" },
  { hf: "model.layers.{bid}.feed_forward.down_proj.weight", gguf: ["blk.{bid}.ffn_down.weight"], layout: "plain" },
  {
    hf: "model.layers.{bid}.feed_forward.experts.gate_up_proj",
    gguf: ["blk.{bid}.ffn_gate_exps.weight", "blk.{bid}.ffn_up_exps.weight"],
    layout: "gate_up_fused",
  },
  { hf: "model.layers.{bid}.feed_forward.experts.down_proj", gguf: ["blk.{bid}.ffn_down_exps.weight"], layout: "down_fused" },
];

/** Prefixes of HF tensors that belong to the vision tower / projector (written to an mmproj GGUF, not the text model). */
export const LLAMA4_VISION_PREFIXES = ["vision_model.", "multi_modal_projector."] as const;

/** Some checkpoints (text-only `Llama4ForCausalLM`) have no `language_model.` prefix; multimodal ones do. */
export function stripLanguageModelPrefix(hfName: string): string {
  return hfName.startsWith("language_model.") ? hfName.slice("language_model.".length) : hfName;
}

export function isLlama4VisionTensor(hfName: string): boolean {
  return LLAMA4_VISION_PREFIXES.some((p) => hfName.startsWith(p));
}

export interface Llama4NameMatch {
  readonly rule: Llama4NameRule;
  /** Layer index, or undefined for global tensors. */
  readonly layer: number | undefined;
  /** GGUF names with the layer index filled in. */
  readonly gguf: readonly string[];
}

const compiled = LLAMA4_TEXT_NAME_RULES.map((rule) => ({
  rule,
  re: new RegExp(`^${rule.hf.replace(/\./g, "\\.").replace("{bid}", "(\\d+)")}$`),
}));

/** Maps one HF text-model tensor name to its GGUF name(s), or undefined when it is not a known Llama 4 text tensor. */
export function mapLlama4HfName(hfName: string): Llama4NameMatch | undefined {
  const name = stripLanguageModelPrefix(hfName);
  for (const { rule, re } of compiled) {
    const m = re.exec(name);
    if (!m) continue;
    const layer = m[1] === undefined ? undefined : Number(m[1]);
    const gguf = rule.gguf.map((g) => (layer === undefined ? g : g.replace("{bid}", String(layer))));
    return { rule, layer, gguf };
  }
  return undefined;
}
