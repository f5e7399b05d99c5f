/**
 * A GGUF file as TensorSources (positional reads, quantized bytes untouched) plus its metadata. The header is
 * parsed and validated by @moeq/formats' `openGguf`; tensor bytes are then read synchronously through our own
 * descriptor, so the forward pass needs no awaits.
 */
import { openSync, readSync, closeSync } from "node:fs";
import { InputError, ggmlRowBytes, openGguf } from "@moeq/formats";
import type { GGMLType, GGUFValue } from "@moeq/formats";
import type { TensorSource } from "./weight-store.js";

export interface GgufTensorEntry {
  readonly name: string;
  /** ggml order: ne[0] = row length. */
  readonly ne: readonly number[];
  readonly type: GGMLType;
  /** Absolute file offset. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly path: string;
  readonly tensors: readonly GgufTensorEntry[];
  get(key: string): GGUFValue | undefined;
  sources(): Map<string, TensorSource>;
  close(): void;
}

export async function openGgufFile(path: string): Promise<GgufFile> {
  const g = await openGguf(path);
  const tensors: GgufTensorEntry[] = g.tensors.map((t) => ({
    name: t.name,
    ne: t.shape,
    type: t.type,
    offset: g.dataOffset + t.offset,
    byteLength: t.byteLength,
  }));
  const metadata = new Map<string, GGUFValue>();
  for (const k of g.metadata.keys()) metadata.set(k, g.get(k)!);
  await g.close();
  const fd = openSync(path, "r");
  const readAt = (pos: number, len: number, into?: Uint8Array) => {
    const buf = into ?? new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = readSync(fd, buf, done, len - done, pos + done);
      if (n === 0) throw new InputError("GGUF_TRUNCATED", `file ends before byte ${pos + len}`, { file: path });
      done += n;
    }
    return buf;
  };
  let closed = false;
  return {
    path,
    tensors,
    get: (k) => metadata.get(k),
    sources: () => {
      const m = new Map<string, TensorSource>();
      for (const t of tensors) {
        const rowBytes = ggmlRowBytes(t.type, t.ne[0]);
        const sliceBytes = rowBytes * (t.ne[1] ?? 1);
        m.set(t.name, {
          type: t.type,
          ne: t.ne,
          readSlice: (e) => readAt(t.offset + (e ?? 0) * sliceBytes, e === undefined ? t.byteLength : sliceBytes),
          readRow: (r) => readAt(t.offset + r * rowBytes, rowBytes),
          readSliceInto: (e, dst) => {
            readAt(t.offset + (e ?? 0) * sliceBytes, e === undefined ? t.byteLength : sliceBytes, dst);
          },
        });
      }
      return m;
    },
    close: () => {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
