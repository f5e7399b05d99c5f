/**
 * Unfused routed-expert weights stored as floats, `…experts.{e}.{gate,up,down}_proj.weight` BF16/F16/F32 [out, in]:
 * plain unfused checkpoints, and the experts a quantized checkpoint keeps unquantized (`moeq gptq --exclude`).
 * Runs after the quantized formats (quantized-linears.ts), so every unfused expert `.weight` still unclaimed is one
 * of these; any other dtype or rank is bad input.
 */
import { InputError, decodeToFloat32, type SafetensorsDType, type SafetensorsTensor } from "@moeq/formats";
import { parseUnfusedExpertName } from "../llama4/expert-names.js";
import type { FormatLinears, QuantizedLinear, ReadEntry } from "./quantized-linears.js";

const FLOAT_DTYPES = ["BF16", "F16", "F32"];

export function unfusedFloatExperts(entries: readonly SafetensorsTensor[], read: ReadEntry): FormatLinears {
  const linears: QuantizedLinear[] = [];
  const consumed = new Set<string>();
  for (const t of entries) {
    if (parseUnfusedExpertName(t.name)?.suffix !== "weight") continue;
    if (!FLOAT_DTYPES.includes(t.dtype) || t.shape.length !== 2) {
      throw new InputError("UNFUSED_EXPERT", `unfused expert weight ${t.name} is ${t.dtype}[${t.shape}], expected BF16/F16/F32 [out, in]`, { file: t.file });
    }
    consumed.add(t.name);
    linears.push({
      module: t.name.slice(0, -".weight".length),
      file: t.file,
      rows: t.shape[0]!,
      cols: t.shape[1]!,
      decode: () => {
        const w = decodeToFloat32(read(t), t.dtype as SafetensorsDType);
        return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
      },
    });
  }
  return { linears, consumed };
}
