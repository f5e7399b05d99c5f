/**
 * Quantized safetensors formats (compressed-tensors FP8, GPTQ v1, AutoAWQ GEMM) and unfused float experts as
 * TensorSources. Each format module finds its Linears among the entries no earlier format claimed and says how to
 * decode one to f32 [out, in]; this module maps them to runtime names: plain Linears through the Llama 4 name
 * table, per-expert Linears (`experts.{e}.{gate,up,down}_proj`, of any format, so quantized and unquantized experts
 * of one layer mix) stacked into the 3-D expert tensors the forward pass reads, one expert decoded per
 * `readSlice(e)`. `safetensors-source.ts` calls `quantizedSources` before its own per-tensor loop.
 */
import { GGMLType, InputError, type SafetensorsTensor } from "@moeq/formats";
import type { Fp8ActivationScheme } from "@moeq/quant";
import { mapLlama4HfName } from "../llama4/names.js";
import { expertGgufName, parseUnfusedExpertName } from "../llama4/expert-names.js";
import type { TensorSource } from "./weight-store.js";
import { compressedTensorsLinears } from "./compressed-tensors.js";
import { awqLinears } from "./awq.js";
import { gptqLinears } from "./gptq.js";
import { unfusedFloatExperts } from "./unfused-float-experts.js";

export type ReadEntry = (e: SafetensorsTensor) => Uint8Array;

/** One quantized Linear found by a format module. */
export interface QuantizedLinear {
  /** HF module name, e.g. `language_model.model.layers.0.self_attn.q_proj`. */
  readonly module: string;
  readonly file: string;
  readonly rows: number;
  readonly cols: number;
  /** The activation quantization a serving stack applies in front of this Linear (FP8 W8A8), if any. */
  readonly activations?: Fp8ActivationScheme;
  /** f32 bytes of the dequantized weight [rows, cols]. */
  decode(): Uint8Array;
}

export interface FormatLinears {
  readonly linears: QuantizedLinear[];
  /** HF tensor names the format consumed (weights, scales, zeros, input scales …). */
  readonly consumed: Set<string>;
}

/**
 * Every format the runtime reads, in claiming order: GPTQ before AWQ (both have `qweight`, GPTQ also `g_idx`), the
 * float experts last (every unfused expert `.weight` the quantized formats left).
 */
const FORMATS: readonly ((entries: readonly SafetensorsTensor[], read: ReadEntry, quantizationConfig?: unknown) => FormatLinears)[] = [
  compressedTensorsLinears,
  gptqLinears,
  awqLinears,
  unfusedFloatExperts,
];

export interface QuantizedSources {
  readonly tensors: Map<string, TensorSource>;
  readonly consumed: Set<string>;
}

/** `quantizationConfig`: config.json's `quantization_config` when known (the formats read their settings from it). */
export function quantizedSources(entries: readonly SafetensorsTensor[], read: ReadEntry, quantizationConfig?: unknown): QuantizedSources {
  const tensors = new Map<string, TensorSource>();
  const consumed = new Set<string>();
  const experts = new Map<string, { ne: [number, number]; slices: Map<number, QuantizedLinear>; file: string }>();
  for (const format of FORMATS) {
    const found = format(consumed.size === 0 ? entries : entries.filter((e) => !consumed.has(e.name)), read, quantizationConfig);
    for (const n of found.consumed) consumed.add(n);
    for (const l of found.linears) {
      const bad = (msg: string): never => {
        throw new InputError("QUANTIZED_LINEAR", `${l.module}: ${msg}`, { file: l.file });
      };
      const unfused = parseUnfusedExpertName(`${l.module}.weight`);
      if (unfused) {
        const key = expertGgufName(unfused.layer, unfused.proj);
        let g = experts.get(key);
        if (!g) experts.set(key, (g = { ne: [l.cols, l.rows], slices: new Map(), file: l.file }));
        if (g.ne[0] !== l.cols || g.ne[1] !== l.rows) bad(`is ${l.rows}×${l.cols} but other experts of ${key} are ${g.ne[1]}×${g.ne[0]}`);
        g.slices.set(unfused.expert, l);
        continue;
      }
      const match = mapLlama4HfName(`${l.module}.weight`);
      if (!match || match.rule.layout !== "plain") bad("is not a Llama 4 text linear");
      tensors.set(match!.gguf[0]!, {
        type: GGMLType.F32,
        ne: [l.cols, l.rows],
        readSlice: () => l.decode(),
        readRow: (r) => l.decode().subarray(r * l.cols * 4, (r + 1) * l.cols * 4),
        activations: l.activations && (() => l.activations),
      });
    }
  }
  for (const [key, g] of experts) {
    const n = g.slices.size;
    for (let e = 0; e < n; e++)
      if (!g.slices.has(e)) throw new InputError("QUANTIZED_LINEAR", `${key}: experts 0..${n - 1} expected, expert ${e} missing`, { file: g.file });
    tensors.set(key, {
      type: GGMLType.F32,
      ne: [g.ne[0], g.ne[1], n],
      readSlice: (e) => {
        if (e === undefined) throw new InputError("BAD_EXPERT", `${key} must be read per expert`, { file: g.file });
        return g.slices.get(e)!.decode();
      },
      activations: (e) => (e === undefined ? undefined : g.slices.get(e)?.activations),
      readRow: () => {
        throw new InputError("BAD_TENSOR_RANK", `expert tensor ${key} has no rows`, { file: g.file });
      },
    });
  }
  return { tensors, consumed };
}
