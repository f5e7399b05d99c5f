/**
 * The Linears GPTQ quantizes in one Llama 4 decoder layer, in calibration order (attention, then the FFN), each
 * with its GGUF name (what the runtime's taps report) and its HF module name in the unfused GPTQ layout
 * (digest §4.2). The router, norms, embeddings, lm_head and the vision tower are never listed: they stay BF16.
 */
import type { Llama4TextConfig } from "@moeq/runtime";

export interface LayerLinear {
  /** GGUF tensor name, e.g. "blk.1.ffn_gate_exps.weight". */
  readonly gguf: string;
  readonly expert?: number;
  /** HF module name without ".weight", with the checkpoint's prefix, e.g. "language_model.model.layers.1.feed_forward.experts.2.gate_proj". */
  readonly module: string;
}

export function layerLinears(cfg: Llama4TextConfig, layer: number, prefix: string): LayerLinear[] {
  const hf = `${prefix}model.layers.${layer}.`;
  const blk = `blk.${layer}.`;
  const out: LayerLinear[] = [
    { gguf: `${blk}attn_q.weight`, module: `${hf}self_attn.q_proj` },
    { gguf: `${blk}attn_k.weight`, module: `${hf}self_attn.k_proj` },
    { gguf: `${blk}attn_v.weight`, module: `${hf}self_attn.v_proj` },
    { gguf: `${blk}attn_output.weight`, module: `${hf}self_attn.o_proj` },
  ];
  const proj = ["gate", "up", "down"] as const;
  if (!cfg.moeLayers[layer]) {
    for (const p of proj) out.push({ gguf: `${blk}ffn_${p}.weight`, module: `${hf}feed_forward.${p}_proj` });
    return out;
  }
  for (const p of proj) out.push({ gguf: `${blk}ffn_${p}_shexp.weight`, module: `${hf}feed_forward.shared_expert.${p}_proj` });
  for (let e = 0; e < cfg.numExperts; e++) {
    for (const p of proj) out.push({ gguf: `${blk}ffn_${p}_exps.weight`, expert: e, module: `${hf}feed_forward.experts.${e}.${p}_proj` });
  }
  return out;
}

/** `--exclude` patterns: a regular expression matched (unanchored) against the HF module name. */
export function isExcluded(module: string, patterns: readonly RegExp[]): boolean {
  return patterns.some((p) => p.test(module));
}
