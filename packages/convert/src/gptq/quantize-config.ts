/**
 * `quantize_config.json` and `config.json` → `quantization_config` for a GPTQ v1 checkpoint (digest §4.3): the keys
 * vLLM reads (bits, group_size, desc_act, sym, lm_head, dynamic, quant_method, checkpoint_format) plus the
 * AutoGPTQ / Transformers ones (damp_percent, static_groups, true_sequential) and GPTQModel-style `meta`.
 */
export interface GptqSettings {
  readonly bits: number;
  readonly groupSize: number;
  readonly descAct: boolean;
  readonly sym: boolean;
  readonly staticGroups: boolean;
  readonly damp: number;
  readonly dampAutoIncrement: number;
  /** Routed experts with fewer tokens than this are quantized with round-to-nearest. */
  readonly minExpertTokens: number;
  /** `--exclude` regular expressions (modules kept BF16). */
  readonly exclude: readonly string[];
}

/** `method` "rtn": every Linear rounded to nearest on the same grid (no calibration); the tensors are the same format. */
export function gptqQuantizationConfig(s: GptqSettings, method: "gptq" | "rtn" = "gptq"): Record<string, unknown> {
  return {
    quant_method: "gptq",
    checkpoint_format: "gptq",
    bits: s.bits,
    group_size: s.groupSize,
    desc_act: s.descAct,
    sym: s.sym,
    static_groups: s.staticGroups,
    damp_percent: s.damp,
    // q/k/v, o, gate/up and down are calibrated from one forward pass per layer (inputs from the quantized layers before it)
    true_sequential: false,
    lm_head: false,
    pack_dtype: "int32",
    // modules left BF16 by --exclude, as GPTQModel / vLLM `dynamic` skip rules
    dynamic: Object.fromEntries(s.exclude.map((p) => [`-:${p}`, {}])),
    meta: {
      quantizer: ["moeq:0.1.0"],
      method,
      damp_auto_increment: s.dampAutoIncrement,
      expert_fallback: { strategy: "rtn", min_tokens: s.minExpertTokens },
    },
  };
}
