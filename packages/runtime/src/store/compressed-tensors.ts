/**
 * compressed-tensors `float-quantized` (FP8 E4M3) Linears: every `X.weight` stored as F8_E4M3 with its
 * `X.weight_scale` (per-tensor [1], per-channel [out, 1] or block [⌈out/128⌉, ⌈in/128⌉]) decodes to
 * w = e4m3⁻¹(code) · scale (@moeq/quant `dequantizeFp8`), and carries the activation quantization vLLM applies in
 * front of its FP8 GEMM (the forward pass simulates it, @moeq/quant `fakeQuantizeFp8Activations`):
 * - from `quantization_config.config_groups.*.input_activations`: static (`X.input_scale`), dynamic per-tensor,
 *   per-token, or per-token-group (`group_size`); `null` means weight-only. Without a config: static where
 *   `input_scale` is stored, else per-token-group 128 for block weights and per-token otherwise (the presets).
 * - Fused modules share one static scale, the largest of their parts (vLLM's process_weights_after_loading):
 *   q/k/v, gate/up of a dense FFN or the shared expert, and across a layer's routed experts one for gate/up and one
 *   for down (its fused-MoE kernels take a single activation scale per GEMM).
 * - Per-tensor weights of fused modules are requantized to the largest weight scale of the fusion as
 *   `requantize_with_max_scale` does: q/k/v and gate/up share one, a routed expert's gate/up share one per expert
 *   (every per-tensor Linear goes through that dequantize in f16 → requantize, a routed expert's down excepted).
 */
import { InputError, type SafetensorsTensor } from "@moeq/formats";
import { FP8_BLOCK_SIZE, dequantizeFp8, encodeFp8, fp8SchemeOfScaleShape, roundToF16, type Fp8ActivationScheme, type Fp8Scheme } from "@moeq/quant";
import type { FormatLinears, QuantizedLinear, ReadEntry } from "./quantized-linears.js";

function f32Of(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** What `input_activations` asks for: none (weight-only), static, a dynamic scheme, or undefined (no config: infer). */
type ActivationRule = "none" | "static" | Exclude<Fp8ActivationScheme, { kind: "static" }> | undefined;

function activationRule(quantizationConfig: unknown, file: string): ActivationRule {
  const groups = (quantizationConfig as { config_groups?: unknown } | undefined)?.config_groups;
  if (groups === undefined || groups === null || typeof groups !== "object") return undefined;
  const bad = (msg: string): never => {
    throw new InputError("COMPRESSED_TENSORS", `quantization_config: ${msg}`, { file });
  };
  const rules = Object.values(groups as Record<string, unknown>).map((g): ActivationRule => {
    const a = (g as { input_activations?: unknown } | null)?.input_activations;
    if (a === undefined || a === null) return "none";
    const { dynamic, strategy, group_size } = a as { dynamic?: unknown; strategy?: unknown; group_size?: unknown };
    if (dynamic === false) return strategy === "tensor" ? "static" : bad(`static input_activations with strategy ${String(strategy)} are not supported`);
    if (strategy === "tensor") return { kind: "tensor" };
    if (strategy === "token") return { kind: "token" };
    if (strategy === "group" && Number.isSafeInteger(group_size) && (group_size as number) > 0) return { kind: "group", groupSize: group_size as number };
    return bad(`dynamic input_activations with strategy ${String(strategy)} (group_size ${String(group_size)}) are not supported`);
  });
  if (rules.length === 0) return undefined;
  const first = JSON.stringify(rules[0]);
  if (rules.some((r) => JSON.stringify(r) !== first)) bad("config groups with different input_activations are not supported");
  return rules[0];
}

/** The module a Linear is fused into for its activation scale (routed experts: one per layer and GEMM). */
const activationFusion = (module: string) =>
  module
    .replace(/experts\.\d+\.(gate|up)_proj$/, "experts.gate_up")
    .replace(/experts\.\d+\.down_proj$/, "experts.down")
    .replace(/\.[qkv]_proj$/, ".qkv_proj")
    .replace(/\.(gate|up)_proj$/, ".gate_up_proj");

/** The module whose per-tensor weight scale a Linear shares (routed experts: per expert). */
const weightFusion = (module: string) => module.replace(/\.[qkv]_proj$/, ".qkv_proj").replace(/\.(gate|up)_proj$/, ".gate_up_proj");

const isRoutedExpertDown = (module: string) => /experts\.\d+\.down_proj$/.test(module);

/** vLLM's requantize_with_max_scale of one part: dequantize in f16, requantize under the fusion's largest scale. */
function requantizeToMaxScale(codes: Uint8Array, rows: number, cols: number, scale: number, maxScale: number): Float32Array {
  const w = dequantizeFp8(codes, rows, cols, "per-tensor", Float32Array.of(roundToF16(scale)));
  for (let i = 0; i < w.length; i++) w[i] = roundToF16(w[i]!);
  const s = Float32Array.of(maxScale);
  return dequantizeFp8(encodeFp8(w, rows, cols, "per-tensor", s), rows, cols, "per-tensor", s);
}

interface Fp8Module {
  readonly module: string;
  readonly weight: SafetensorsTensor;
  readonly scale: SafetensorsTensor;
  readonly inputScale: SafetensorsTensor | undefined;
  readonly scheme: Fp8Scheme;
  readonly rows: number;
  readonly cols: number;
}

export function compressedTensorsLinears(entries: readonly SafetensorsTensor[], read: ReadEntry, quantizationConfig?: unknown): FormatLinears {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const consumed = new Set<string>();
  const modules: Fp8Module[] = [];
  for (const w of entries) {
    if (w.dtype !== "F8_E4M3" || !w.name.endsWith(".weight")) continue;
    const module = w.name.slice(0, -".weight".length);
    const scale = byName.get(`${module}.weight_scale`);
    const bad = (msg: string): never => {
      throw new InputError("COMPRESSED_TENSORS", `FP8 tensor ${w.name}: ${msg}`, { file: w.file });
    };
    if (!scale) return bad("has no weight_scale");
    if (w.shape.length !== 2) bad(`has shape [${w.shape.join(", ")}], expected [out, in]`);
    const [rows, cols] = w.shape as [number, number];
    const scheme = fp8SchemeOfScaleShape(scale.shape, rows, cols);
    if (scale.dtype !== "F32" || scheme === undefined)
      bad(`weight_scale is ${scale.dtype} [${scale.shape.join(", ")}]; expected F32 [1], [${rows}, 1] or 128×128 blocks`);
    const inputScale = byName.get(`${module}.input_scale`);
    if (inputScale && (inputScale.dtype !== "F32" || inputScale.shape.reduce((a, b) => a * b, 1) !== 1))
      bad(`input_scale is ${inputScale.dtype} [${inputScale.shape.join(", ")}]; expected F32 [1]`);
    for (const n of [w.name, scale.name, `${module}.input_scale`]) if (byName.has(n)) consumed.add(n);
    modules.push({ module, weight: w, scale, inputScale, scheme: scheme!, rows, cols });
  }
  if (modules.length === 0) return { linears: [], consumed };

  const rule = activationRule(quantizationConfig, modules[0]!.weight.file);
  const scalarOf = (e: SafetensorsTensor): number => f32Of(read(e))[0]!;
  // The largest static input scale of each activation fusion, and the largest per-tensor weight scale of each weight fusion.
  const inputMax = new Map<string, number>();
  const weightMax = new Map<string, number>();
  for (const m of modules) {
    if (m.inputScale && (rule === "static" || rule === undefined)) {
      const s = scalarOf(m.inputScale);
      if (!(s > 0 && Number.isFinite(s)))
        throw new InputError("COMPRESSED_TENSORS", `FP8 tensor ${m.inputScale.name}: input scale ${s} is not positive and finite`, { file: m.inputScale.file });
      const key = activationFusion(m.module);
      inputMax.set(key, Math.max(inputMax.get(key) ?? 0, s));
    }
    if (m.scheme === "per-tensor" && !isRoutedExpertDown(m.module)) {
      const key = weightFusion(m.module);
      weightMax.set(key, Math.max(weightMax.get(key) ?? 0, scalarOf(m.scale)));
    }
  }

  const linears = modules.map((m): QuantizedLinear => {
    let activations: Fp8ActivationScheme | undefined;
    if (rule === "static" || (rule === undefined && m.inputScale)) {
      const scale = inputMax.get(activationFusion(m.module));
      if (scale === undefined)
        throw new InputError("COMPRESSED_TENSORS", `FP8 tensor ${m.weight.name}: static activations but no input_scale`, { file: m.weight.file });
      activations = { kind: "static", scale };
    } else if (rule === undefined) activations = m.scheme === "block" ? { kind: "group", groupSize: FP8_BLOCK_SIZE } : { kind: "token" };
    else if (rule !== "none") activations = rule;
    if (activations?.kind === "group" && m.cols % activations.groupSize !== 0)
      throw new InputError(
        "COMPRESSED_TENSORS",
        `FP8 tensor ${m.weight.name}: ${m.cols} inputs do not split into activation groups of ${activations.groupSize}`,
        {
          file: m.weight.file,
        },
      );
    const maxScale = weightMax.get(weightFusion(m.module));
    const { rows, cols, scheme } = m;
    return {
      module: m.module,
      file: m.weight.file,
      rows,
      cols,
      activations,
      decode: () => {
        const scales = f32Of(read(m.scale));
        const w =
          maxScale === undefined
            ? dequantizeFp8(read(m.weight), rows, cols, scheme, scales)
            : requantizeToMaxScale(read(m.weight), rows, cols, scales[0]!, maxScale);
        return new Uint8Array(w.buffer);
      },
    };
  });
  return { linears, consumed };
}
