/**
 * compressed-tensors `float-quantized` (FP8 E4M3) Linears: every `X.weight` stored as F8_E4M3 with its
 * `X.weight_scale` (per-tensor [1], per-channel [out, 1] or block [⌈out/128⌉, ⌈in/128⌉]) decodes to
 * w = e4m3⁻¹(code) · scale (@moeq/quant `dequantizeFp8`). `X.input_scale` (static activation scales) is consumed
 * and not applied: the runtime scores the weights with f32 activations.
 */
import { InputError, type SafetensorsTensor } from "@moeq/formats";
import { dequantizeFp8, fp8SchemeOfScaleShape } from "@moeq/quant";
import type { FormatLinears, QuantizedLinear, ReadEntry } from "./quantized-linears.js";

function f32Of(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function compressedTensorsLinears(entries: readonly SafetensorsTensor[], read: ReadEntry): FormatLinears {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const linears: QuantizedLinear[] = [];
  const consumed = new Set<string>();
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
    for (const n of [w.name, scale.name, `${module}.input_scale`]) if (byName.has(n)) consumed.add(n);
    linears.push({
      module,
      file: w.file,
      rows,
      cols,
      decode: () => new Uint8Array(dequantizeFp8(read(w), rows, cols, scheme!, f32Of(read(scale))).buffer),
    });
  }
  return { linears, consumed };
}
