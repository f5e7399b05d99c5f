/**
 * An HF checkpoint opened through @moeq/formats' `openSafetensors`, with its tensors listed in
 * llama.cpp's converter order (conversion/base.py index_tensors: shard files in sorted order, names sorted
 * within a shard) and restricted to the dtypes the converter widens (F32, F16, BF16).
 */
import { InputError, openSafetensors, type SafetensorsCheckpoint, type SafetensorsTensor } from "@moeq/formats";

export type CheckpointDType = "F32" | "F16" | "BF16";
export interface CheckpointTensor extends SafetensorsTensor {
  readonly dtype: CheckpointDType;
}

const DTYPE_BYTES: Record<CheckpointDType, number> = { F32: 4, F16: 2, BF16: 2 };

export function dtypeBytes(d: CheckpointDType): number {
  return DTYPE_BYTES[d];
}

export interface OpenedCheckpoint {
  readonly checkpoint: SafetensorsCheckpoint;
  /** converter order */
  readonly tensors: CheckpointTensor[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export async function openCheckpoint(dir: string): Promise<OpenedCheckpoint> {
  const checkpoint = await openSafetensors(dir);
  try {
    const tensors: CheckpointTensor[] = [];
    for (const t of checkpoint.tensors.values()) {
      if (!(t.dtype in DTYPE_BYTES)) {
        throw new InputError("ST_DTYPE", `tensor ${t.name} has dtype ${t.dtype}; supported: F32, F16, BF16`, { file: t.file });
      }
      tensors.push(t as CheckpointTensor);
    }
    tensors.sort((a, b) => byString(a.file, b.file) || byString(a.name, b.name));
    return { checkpoint, tensors };
  } catch (err) {
    await checkpoint.close();
    throw err;
  }
}
