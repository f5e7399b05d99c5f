/**
 * One [rows, cols] weight of a planned (checkpoint-backed) tensor as f32 — a Linear, or expert `expert` of a
 * stacked expert tensor — with NaN / ±Inf refused, naming the HF tensor and its file (bad input, exit 2).
 */
import { InputError, type SafetensorsCheckpoint } from "@moeq/formats";
import { firstNonFinite } from "@moeq/quant";
import type { PlannedTensor } from "./arch/llama4.js";
import { readPlannedUnit } from "./tensor-units.js";

export async function readFiniteMatrix(
  reader: SafetensorsCheckpoint,
  planned: PlannedTensor,
  expert: number,
  rows: number,
  cols: number,
): Promise<Float32Array> {
  const w = await readPlannedUnit(reader, planned, { expert, row0: 0, nrows: rows });
  const bad = firstNonFinite(w);
  if (bad >= 0) {
    const rc = planned.recipe;
    const src = rc.kind === "stacked" ? rc.srcs[expert]! : rc.kind === "generated" ? undefined : rc.src;
    const where = planned.experts > 1 ? ` (expert ${expert})` : "";
    throw new InputError(
      "NON_FINITE_WEIGHT",
      `tensor ${src?.name ?? planned.name}${where} has a non-finite weight (${w[bad]}) at row ${Math.floor(bad / cols)}, column ${bad % cols}`,
      { file: src?.file },
    );
  }
  return w;
}
