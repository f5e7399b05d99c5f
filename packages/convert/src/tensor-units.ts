/**
 * Splits a tensor into units of work — one expert's slice, or a bounded run of rows — and reads each
 * unit as f32 rows in ggml layout. Units never cross an expert boundary (each expert has its own imatrix
 * slice), and never exceed `maxUnitElements`, so memory stays bounded by one unit per thread.
 */
import { GGMLType, GGML_TYPE_INFO, bf16ToF32Row, f16ToF32Row, InputError, type GGUFFile, type GGUFTensorInfo, type SafetensorsCheckpoint } from "@moeq/formats";
import type { PlannedTensor } from "./arch/llama4.js";
import { dtypeBytes, type CheckpointDType, type CheckpointTensor } from "./checkpoint-index.js";

export interface Unit {
  readonly expert: number;
  /** First row within the expert. */
  readonly row0: number;
  readonly nrows: number;
}

export const DEFAULT_MAX_UNIT_ELEMENTS = 1 << 22; // 4M f32 = 16 MiB

export function planUnits(ne: readonly number[], maxUnitElements = DEFAULT_MAX_UNIT_ELEMENTS): Unit[] {
  const nPerRow = ne[0];
  const rowsPerExpert = ne.length >= 2 ? ne[1] : 1;
  const experts = ne.length >= 3 ? ne.slice(2).reduce((a, b) => a * b, 1) : 1;
  const rowsPerUnit = Math.max(1, Math.floor(maxUnitElements / nPerRow));
  const units: Unit[] = [];
  for (let e = 0; e < experts; e++) {
    for (let r = 0; r < rowsPerExpert; r += rowsPerUnit) units.push({ expert: e, row0: r, nrows: Math.min(rowsPerUnit, rowsPerExpert - r) });
  }
  return units;
}

function widen(dtype: CheckpointDType, b: Uint8Array): Float32Array {
  if (dtype === "F32") {
    const out = new Float32Array(b.length / 4);
    new Uint8Array(out.buffer).set(b);
    return out;
  }
  // read in place when the bytes sit on a 2-byte boundary (they always do in a fresh read buffer): one copy less per unit
  const u16 = b.byteOffset % 2 === 0 ? new Uint16Array(b.buffer, b.byteOffset, b.length / 2) : new Uint16Array(b.slice().buffer);
  return dtype === "F16" ? f16ToF32Row(u16) : bf16ToF32Row(u16);
}

/** Reads rows [row0, row0+nrows) of a row-major HF matrix region starting at `base` bytes. */
async function readRows(
  reader: SafetensorsCheckpoint,
  src: CheckpointTensor,
  base: number,
  rowLen: number,
  row0: number,
  nrows: number,
): Promise<Float32Array> {
  const eb = dtypeBytes(src.dtype);
  const start = base + row0 * rowLen * eb;
  return widen(src.dtype, await reader.readBytes(src.name, { start, end: start + nrows * rowLen * eb }));
}

/**
 * Transposed read: output rows [row0, row0+nrows) of the transpose of an HF [a, b] matrix at `base`,
 * restricted to HF columns [col0, col0 + outRows). Output row r, column c = HF[c][col0 + row0 + r].
 * Reads the HF matrix in bounded blocks of HF rows.
 */
async function readTransposed(
  reader: SafetensorsCheckpoint,
  src: CheckpointTensor,
  base: number,
  a: number,
  b: number,
  col0: number,
  row0: number,
  nrows: number,
): Promise<Float32Array> {
  const eb = dtypeBytes(src.dtype);
  const out = new Float32Array(nrows * a);
  const blockRows = Math.max(1, Math.floor((8 << 20) / (b * eb)));
  for (let c0 = 0; c0 < a; c0 += blockRows) {
    const n = Math.min(blockRows, a - c0);
    const at = base + c0 * b * eb;
    const blk = widen(src.dtype, await reader.readBytes(src.name, { start: at, end: at + n * b * eb }));
    const start = col0 + row0;
    for (let c = 0; c < n; c++) {
      const rowOff = c * b + start;
      const col = c0 + c;
      for (let r = 0; r < nrows; r++) out[r * a + col] = blk[rowOff + r];
    }
  }
  return out;
}

/** Reads one unit of a planned (checkpoint-backed) tensor as f32 in ggml layout. */
export async function readPlannedUnit(reader: SafetensorsCheckpoint, t: PlannedTensor, u: Unit): Promise<Float32Array> {
  const rc = t.recipe;
  const nPerRow = t.ne[0];
  switch (rc.kind) {
    case "generated":
      return rc.data.slice(u.row0 * nPerRow, (u.row0 + u.nrows) * nPerRow);
    case "plain": {
      return await readRows(reader, rc.src, 0, nPerRow, u.row0, u.nrows);
    }
    case "stacked":
      return await readRows(reader, rc.srcs[u.expert], 0, nPerRow, u.row0, u.nrows);
    case "gate_up": {
      const [, a, b] = rc.src.shape; // [E, hidden, 2ff]
      const eb = dtypeBytes(rc.src.dtype);
      return await readTransposed(reader, rc.src, u.expert * a * b * eb, a, b, rc.part * (b / 2), u.row0, u.nrows);
    }
    case "down": {
      const [, a, b] = rc.src.shape; // [E, ff, hidden]
      const eb = dtypeBytes(rc.src.dtype);
      return await readTransposed(reader, rc.src, u.expert * a * b * eb, a, b, 0, u.row0, u.nrows);
    }
  }
}

/** The stored bytes of one unit of a GGUF tensor. */
async function readGGUFUnitBytes(file: GGUFFile, t: GGUFTensorInfo, u: Unit): Promise<Uint8Array> {
  const info = GGML_TYPE_INFO[t.type];
  const rowBytes = (t.shape[0] / info.blockSize) * info.typeSize;
  const rowsPerExpert = t.shape.length >= 2 ? t.shape[1] : 1;
  const start = (u.expert * rowsPerExpert + u.row0) * rowBytes;
  return file.readTensorBytes(t.name, { start, end: start + u.nrows * rowBytes });
}

/** Widens one unit of a GGUF tensor (F32/F16/BF16) to f32. Quantized inputs are refused, as llama-quantize does by default. */
export async function readGGUFUnit(file: GGUFFile, t: GGUFTensorInfo, u: Unit): Promise<Float32Array> {
  switch (t.type) {
    case GGMLType.F32:
      return widen("F32", await readGGUFUnitBytes(file, t, u));
    case GGMLType.F16:
      return widen("F16", await readGGUFUnitBytes(file, t, u));
    case GGMLType.BF16:
      return widen("BF16", await readGGUFUnitBytes(file, t, u));
    default:
      throw new InputError("REQUANTIZE", `tensor ${t.name} is already ${GGML_TYPE_INFO[t.type].name}; requantizing is disabled (as in llama-quantize)`, {
        file: file.path,
      });
  }
}

/** Raw bytes of one unit of a GGUF tensor (for tensors copied unchanged). */
export const readGGUFUnitRaw = readGGUFUnitBytes;
