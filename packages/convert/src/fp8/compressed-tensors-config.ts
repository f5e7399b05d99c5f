/**
 * `quantization_config` of a compressed-tensors FP8 checkpoint (format "float-quantized"), with the field set of
 * compressed-tensors' QuantizationArgs / QuantizationScheme and the presets vLLM's W8A8-FP8 MoE path accepts:
 *   per-tensor  weights "tensor"  + activations static "tensor" (FP8) or dynamic "token"
 *   per-channel weights "channel" + activations dynamic "token"           (FP8_DYNAMIC, Meta's Maverick FP8)
 *   block       weights "block" [128, 128] + activations dynamic "group" 128 (FP8_BLOCK)
 * `ignore` follows the official Llama 4 FP8 checkpoints: router, lm_head, vision tower and projector; with
 * experts-only also attention, the shared expert and the dense FFNs.
 */
import { FP8_BLOCK_SIZE, type Fp8Scheme } from "@moeq/quant";

export type Fp8Activations = "dynamic" | "static";

const FLOAT8 = { num_bits: 8, type: "float", symmetric: true } as const;

function weightArgs(scheme: Fp8Scheme): Record<string, unknown> {
  return {
    ...FLOAT8,
    group_size: null,
    strategy: scheme === "per-tensor" ? "tensor" : scheme === "per-channel" ? "channel" : "block",
    block_structure: scheme === "block" ? [FP8_BLOCK_SIZE, FP8_BLOCK_SIZE] : null,
    dynamic: false,
    actorder: null,
    observer: "minmax",
    observer_kwargs: {},
  };
}

function inputArgs(scheme: Fp8Scheme, activations: Fp8Activations): Record<string, unknown> {
  const dynamic = activations === "dynamic";
  return {
    ...FLOAT8,
    group_size: scheme === "block" ? FP8_BLOCK_SIZE : null,
    strategy: !dynamic ? "tensor" : scheme === "block" ? "group" : "token",
    block_structure: null,
    dynamic,
    actorder: null,
    observer: dynamic ? null : "minmax",
    observer_kwargs: {},
  };
}

/** compressed-tensors `ignore` entries (exact names or `re:` regexes over module names). */
export function fp8IgnoreList(expertsOnly: boolean): string[] {
  const always = ["re:.*lm_head", "re:.*feed_forward\\.router", "re:.*vision_model.*", "re:.*multi_modal_projector.*"];
  if (!expertsOnly) return always;
  return [...always, "re:.*self_attn.*", "re:.*shared_expert.*", "re:.*feed_forward\\.(gate|up|down)_proj"];
}

export function compressedTensorsFp8Config(scheme: Fp8Scheme, activations: Fp8Activations, expertsOnly: boolean): Record<string, unknown> {
  return {
    quant_method: "compressed-tensors",
    format: "float-quantized",
    quantization_status: "compressed",
    config_groups: {
      group_0: {
        targets: ["Linear"],
        weights: weightArgs(scheme),
        input_activations: inputArgs(scheme, activations),
        output_activations: null,
        format: "float-quantized",
      },
    },
    ignore: fp8IgnoreList(expertsOnly),
    kv_cache_scheme: null,
    global_compression_ratio: null,
    sparsity_config: {},
  };
}
