/**
 * Llama 4 vision tower names: HF checkpoint name → mmproj GGUF name, as llama.cpp's converter writes them
 * (conversion Llama4VisionModel / gguf-py tensor_mapping "llama 4" rows). Tensors keep their HF layout
 * (GGUF ne = HF shape reversed); only the names change.
 */
const LAYER_RULES: readonly [RegExp, string][] = [
  [/^vision_model\.model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, "v.blk.{bid}.attn_q"],
  [/^vision_model\.model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, "v.blk.{bid}.attn_k"],
  [/^vision_model\.model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, "v.blk.{bid}.attn_v"],
  [/^vision_model\.model\.layers\.(\d+)\.self_attn\.o_proj\.(weight|bias)$/, "v.blk.{bid}.attn_out"],
  [/^vision_model\.model\.layers\.(\d+)\.input_layernorm\.(weight|bias)$/, "v.blk.{bid}.ln1"],
  [/^vision_model\.model\.layers\.(\d+)\.post_attention_layernorm\.(weight|bias)$/, "v.blk.{bid}.ln2"],
  [/^vision_model\.model\.layers\.(\d+)\.mlp\.fc1\.(weight|bias)$/, "v.blk.{bid}.ffn_up"],
  [/^vision_model\.model\.layers\.(\d+)\.mlp\.fc2\.(weight|bias)$/, "v.blk.{bid}.ffn_down"],
  // the pixel-shuffle adapter MLP: fc1 → mm.model.mlp.1, fc2 → mm.model.mlp.2
  [/^vision_model\.vision_adapter\.mlp\.fc(\d+)\.(weight|bias)$/, "mm.model.mlp.{bid}"],
];

const GLOBAL_RULES: Readonly<Record<string, string>> = {
  "vision_model.class_embedding": "v.class_embd",
  "vision_model.patch_embedding.linear.weight": "v.patch_embd.weight",
  "vision_model.positional_embedding_vlm": "v.position_embd.weight",
  "vision_model.layernorm_pre.weight": "v.pre_ln.weight",
  "vision_model.layernorm_pre.bias": "v.pre_ln.bias",
  "vision_model.layernorm_post.weight": "v.post_ln.weight",
  "vision_model.layernorm_post.bias": "v.post_ln.bias",
  // a single fully connected layer despite the numbered name
  "multi_modal_projector.linear_1.weight": "mm.model.fc.weight",
};

/** The mmproj GGUF name of an HF vision/projector tensor, or undefined when it has none. */
export function llama4VisionGgufName(hfName: string): string | undefined {
  if (hfName in GLOBAL_RULES) return GLOBAL_RULES[hfName];
  for (const [re, g] of LAYER_RULES) {
    const m = re.exec(hfName);
    if (m) return `${g.replace("{bid}", m[1])}.${m[2]}`;
  }
  return undefined;
}
