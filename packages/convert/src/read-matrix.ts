/**
 * One [rows, cols] weight of a planned (checkpoint-backed) tensor as f32 — a Linear, or expert `expert` of a
 * stacked expert tensor — with NaN / ±Inf refused, naming the HF tensor and its file (bad input, exit 2).
 */
import type { SafetensorsCheckpoint } from "@moeq/formats";
import type { PlannedTensor } from "./arch/llama4.js";
import { readFinitePlannedUnit } from "./non-finite.js";

export async function readFiniteMatrix(
  reader: SafetensorsCheckpoint,
  planned: PlannedTensor,
  expert: number,
  rows: number,
  _cols: number,
): Promise<Float32Array> {
  return readFinitePlannedUnit(reader, planned, { expert, row0: 0, nrows: rows });
}
