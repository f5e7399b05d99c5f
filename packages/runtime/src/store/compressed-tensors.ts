/**
 * compressed-tensors `float-quantized` (FP8 E4M3) weights as TensorSources: every `X.weight` stored as F8_E4M3
 * with its `X.weight_scale` (per-tensor [1], per-channel [out, 1] or block [⌈out/128⌉, ⌈in/128⌉]) is decoded
 * to f32 on load (w = e4m3⁻¹(code) · scale, @moeq/quant `dequantizeFp8`). Plain names go through the Llama 4
 * name table; per-expert names (`experts.{e}.{gate,up,down}_proj.weight`) are stacked into the 3-D expert
 * tensors the forward pass reads, one expert decoded per `readSlice(e)`. `X.input_scale` (static activation
 * scales) is consumed and not applied: the runtime scores the weights in f32 activations.
 */
import { GGMLType, InputError, type SafetensorsTensor } from "@moeq/formats";
import { dequantizeFp8, fp8SchemeOfScaleShape } from "@moeq/quant";
import { mapLlama4HfName } from "../llama4/names.js";
import { expertGgufName, parseUnfusedExpertName } from "../llama4/expert-names.js";
import type { TensorSource } from "./weight-store.js";

/** Tensors a quantized-format loader took over, by GGUF name, and the HF entries it consumed. */
export interface QuantizedSources {
  readonly tensors: Map<string, TensorSource>;
  readonly consumed: Set<string>;
}

type ReadEntry = (e: SafetensorsTensor) => Uint8Array;

function f32Of(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Decodes one FP8 weight + its scale to f32 bytes [out, in] (GGUF ne [in, out]). */
function decodeFp8(weight: SafetensorsTensor, scale: SafetensorsTensor, read: ReadEntry): Uint8Array {
  const [rows, cols] = weight.shape as [number, number];
  const scheme = fp8SchemeOfScaleShape(scale.shape, rows, cols)!;
  return new Uint8Array(dequantizeFp8(read(weight), rows, cols, scheme, f32Of(read(scale))).buffer);
}

export function compressedTensorsSources(entries: readonly SafetensorsTensor[], read: ReadEntry): QuantizedSources {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const tensors = new Map<string, TensorSource>();
  const consumed = new Set<string>();
  const experts = new Map<string, { ne: [number, number]; slices: Map<number, () => Uint8Array>; file: string }>();
  for (const w of entries) {
    if (w.dtype !== "F8_E4M3" || !w.name.endsWith(".weight")) continue;
    const base = w.name.slice(0, -".weight".length);
    const scale = byName.get(`${base}.weight_scale`);
    const bad = (msg: string): never => {
      throw new InputError("COMPRESSED_TENSORS", `FP8 tensor ${w.name}: ${msg}`, { file: w.file });
    };
    if (!scale) bad("has no weight_scale");
    if (w.shape.length !== 2) bad(`has shape [${w.shape.join(", ")}], expected [out, in]`);
    const [rows, cols] = w.shape as [number, number];
    if (scale!.dtype !== "F32" || fp8SchemeOfScaleShape(scale!.shape, rows, cols) === undefined) {
      bad(`weight_scale is ${scale!.dtype} [${scale!.shape.join(", ")}]; expected F32 [1], [${rows}, 1] or 128×128 blocks`);
    }
    for (const n of [w.name, scale!.name, `${base}.input_scale`]) if (byName.has(n)) consumed.add(n);
    const decode = () => decodeFp8(w, scale!, read);
    const unfused = parseUnfusedExpertName(w.name);
    if (unfused) {
      const key = expertGgufName(unfused.layer, unfused.proj);
      let g = experts.get(key);
      if (!g) experts.set(key, (g = { ne: [cols, rows], slices: new Map(), file: w.file }));
      if (g.ne[0] !== cols || g.ne[1] !== rows) bad(`is ${rows}×${cols} but other experts of ${key} are ${g.ne[1]}×${g.ne[0]}`);
      g.slices.set(unfused.expert, decode);
      continue;
    }
    const match = mapLlama4HfName(w.name);
    if (!match || match.rule.layout !== "plain") bad("is not a Llama 4 text linear weight");
    tensors.set(match!.gguf[0]!, {
      type: GGMLType.F32,
      ne: [cols, rows],
      readSlice: decode,
      readRow: (r) => decode().subarray(r * cols * 4, (r + 1) * cols * 4),
    });
  }
  for (const [key, g] of experts) {
    const n = g.slices.size;
    for (let e = 0; e < n; e++) {
      if (!g.slices.has(e)) throw new InputError("COMPRESSED_TENSORS", `${key}: experts 0..${n - 1} expected, expert ${e} missing`, { file: g.file });
    }
    tensors.set(key, {
      type: GGMLType.F32,
      ne: [g.ne[0], g.ne[1], n],
      readSlice: (e) => {
        if (e === undefined) throw new InputError("BAD_EXPERT", `${key} must be read per expert`, { file: g.file });
        return g.slices.get(e)!();
      },
      readRow: () => {
        throw new InputError("BAD_TENSOR_RANK", `expert tensor ${key} has no rows`, { file: g.file });
      },
    });
  }
  return { tensors, consumed };
}
