/**
 * NaN / ±Inf weights are bad input: every pipeline refuses them before anything is written under the final name,
 * naming the file, the tensor and the element (exit 2). llama-quantize only notices them after quantizing, when
 * ggml_validate_row_data (ggml-quants.c) finds a non-finite F16/BF16/F32 value or block scale in its output, and it
 * copies tensors it keeps unchanged without a check; moeq checks every weight it reads, kept or converted, the
 * same way for F32, F16 and BF16 sources (quantized GGUF tensors copied unchanged are not decoded).
 */
import { GGMLType, InputError, type GGUFFile, type GGUFTensorInfo, type SafetensorsCheckpoint } from "@moeq/formats";
import { firstNonFinite } from "@moeq/quant";
import type { PlannedTensor } from "./arch/llama4.js";
import { readGGUFUnit, readPlannedUnit, type Unit } from "./tensor-units.js";

function nonFinite(file: string | undefined, what: string, value: number, at: string): InputError {
  return new InputError("NON_FINITE_WEIGHT", `tensor ${what} has a non-finite weight (${value}) at ${at}`, { file });
}

/** Where element `bad` of a unit of `t` (ggml layout: rows of ne0) sits in its HF source tensor. */
function hfLocation(t: PlannedTensor, u: Unit, bad: number): { file: string | undefined; what: string; at: string } {
  const row = u.row0 + Math.floor(bad / t.ne[0]!);
  const col = bad % t.ne[0]!;
  const rc = t.recipe;
  switch (rc.kind) {
    case "plain":
      return { file: rc.src.file, what: rc.src.name, at: t.ne.length >= 2 ? `row ${row}, column ${col}` : `element ${col}` };
    case "stacked":
      return { file: rc.srcs[u.expert]!.file, what: `${rc.srcs[u.expert]!.name} (expert ${u.expert})`, at: `row ${row}, column ${col}` };
    case "gate_up": // HF [E, hidden, 2ff]: ggml row = output column of the fused matrix
      return { file: rc.src.file, what: rc.src.name, at: `index [${u.expert}, ${col}, ${rc.part * t.ne[1]! + row}]` };
    case "down": // HF [E, ff, hidden]
      return { file: rc.src.file, what: rc.src.name, at: `index [${u.expert}, ${col}, ${row}]` };
    case "generated":
      return { file: undefined, what: t.name, at: `row ${row}, column ${col}` };
  }
}

/** `readPlannedUnit`, refusing a NaN or ±Inf with the HF file, tensor and index. */
export async function readFinitePlannedUnit(reader: SafetensorsCheckpoint, t: PlannedTensor, u: Unit): Promise<Float32Array> {
  const w = await readPlannedUnit(reader, t, u);
  const bad = firstNonFinite(w);
  if (bad >= 0) {
    const { file, what, at } = hfLocation(t, u, bad);
    throw nonFinite(file, what, w[bad]!, at);
  }
  return w;
}

function ggufLocation(t: GGUFTensorInfo, u: Unit, bad: number): string {
  const row = u.row0 + Math.floor(bad / t.shape[0]!);
  const col = bad % t.shape[0]!;
  const expert = t.shape.length >= 3 ? ` of expert ${u.expert}` : "";
  return t.shape.length >= 2 ? `row ${row}${expert}, column ${col}` : `element ${col}`;
}

/** `readGGUFUnit`, refusing a NaN or ±Inf with the file, tensor and (row, column). */
export async function readFiniteGGUFUnit(file: GGUFFile, t: GGUFTensorInfo, u: Unit): Promise<Float32Array> {
  const w = await readGGUFUnit(file, t, u);
  const bad = firstNonFinite(w);
  if (bad >= 0) throw nonFinite(file.path, t.name, w[bad]!, ggufLocation(t, u, bad));
  return w;
}

/** Checks the raw bytes of a unit copied unchanged (F32 / F16 / BF16 are decoded and checked; quantized blocks are not). */
export async function checkFiniteGGUFUnit(file: GGUFFile, t: GGUFTensorInfo, u: Unit): Promise<void> {
  if (t.type === GGMLType.F32 || t.type === GGMLType.F16 || t.type === GGMLType.BF16) await readFiniteGGUFUnit(file, t, u);
}
