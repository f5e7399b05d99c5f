// A copy of an HF checkpoint with one BF16 weight overwritten (NaN / Inf inputs for the bad-input tests). Test-only.
import { closeSync, cpSync, openSync, writeSync } from "node:fs";
import { openSafetensors } from "@moeq/formats";

/** Copies `src` to `dst` and sets element (row, col) of the 2-D BF16 tensor `name` to the raw bits `bf16`. */
export async function copyWithBf16Value(src: string, dst: string, name: string, row: number, col: number, bf16: number): Promise<void> {
  cpSync(src, dst, { recursive: true });
  const ck = await openSafetensors(dst);
  const t = ck.tensors.get(name)!;
  await ck.close();
  const fd = openSync(t.file, "r+");
  try {
    writeSync(fd, Uint8Array.of(bf16 & 0xff, bf16 >>> 8), 0, 2, t.offset + 2 * (row * t.shape[1]! + col));
  } finally {
    closeSync(fd);
  }
}
