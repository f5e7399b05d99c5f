/**
 * Per-expert ("unfused") Llama 4 expert tensor names, the layout every quantized Llama 4 checkpoint uses
 * (HF converter with OFFLINE_QUANT_COMPATIBLE, llm-compressor, GPTQModel; vLLM's unfused loader path):
 *   <prefix>model.layers.{L}.feed_forward.experts.{e}.{gate|up|down}_proj.<suffix>
 * where <suffix> is `weight` for BF16 and FP8, or the quantized parts (`weight_scale`, `qweight`, …).
 */

export type ExpertProj = "gate" | "up" | "down";

export interface UnfusedExpertName {
  /** Everything before `.{e}.`: `[language_model.]model.layers.{L}.feed_forward.experts`. */
  readonly prefix: string;
  readonly layer: number;
  readonly expert: number;
  readonly proj: ExpertProj;
  /** The part after `_proj.`, e.g. "weight" or "weight_scale". */
  readonly suffix: string;
}

const UNFUSED = /^((?:language_model\.)?model\.layers\.(\d+)\.feed_forward\.experts)\.(\d+)\.(gate|up|down)_proj\.([A-Za-z0-9_]+)$/;

export function parseUnfusedExpertName(hfName: string): UnfusedExpertName | undefined {
  const m = UNFUSED.exec(hfName);
  if (!m) return undefined;
  return { prefix: m[1]!, layer: Number(m[2]), expert: Number(m[3]), proj: m[4] as ExpertProj, suffix: m[5]! };
}

/** `<prefix>.{expert}.{proj}_proj.{suffix}` */
export function unfusedExpertName(prefix: string, expert: number, proj: ExpertProj, suffix: string): string {
  return `${prefix}.${expert}.${proj}_proj.${suffix}`;
}

/** The GGUF (runtime) name of layer L's stacked expert tensor for `proj`, e.g. blk.1.ffn_gate_exps.weight. */
export function expertGgufName(layer: number, proj: ExpertProj): string {
  return `blk.${layer}.ffn_${proj}_exps.weight`;
}
