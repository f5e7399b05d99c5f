/**
 * HF safetensors checkpoint (one file, a directory of shards, or a directory with model.safetensors.index.json)
 * presented as GGUF-named TensorSources through `mapLlama4HfName`. Fused expert tensors are viewed per expert:
 * one expert's slice is read by byte range and transposed to the [out, in] layout on load.
 * Headers and the shard index are parsed (and validated) by @moeq/formats' `openSafetensors`; tensor bytes are then
 * read positionally and synchronously through our own descriptors, so the forward pass needs no awaits.
 */
import { openSync, readSync, closeSync } from "node:fs";
import { GGMLType, InputError, openSafetensors } from "@moeq/formats";
import { mapLlama4HfName } from "../llama4/names.js";
import type { TensorSource } from "./weight-store.js";
import { quantizedSources } from "./quantized-linears.js";

const DTYPES: Record<string, { type: GGMLType; bytes: number }> = {
  F32: { type: GGMLType.F32, bytes: 4 },
  F16: { type: GGMLType.F16, bytes: 2 },
  BF16: { type: GGMLType.BF16, bytes: 2 },
};

function readAt(fd: number, position: number, length: number, file: string): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new InputError("SAFETENSORS_TRUNCATED", `file ends before byte ${position + length}`, { file });
    done += n;
  }
  return buf;
}

/** Transposes a [a, b] matrix of 2- or 4-byte elements into [b, a], taking columns [c0, c0+nb) of the source. */
function transposeElements(
  Elements: Uint16ArrayConstructor | Uint32ArrayConstructor,
  src: Uint8Array,
  a: number,
  bTotal: number,
  c0: number,
  nb: number,
): Uint8Array {
  const s = new Elements(src.buffer as ArrayBuffer, src.byteOffset, a * bTotal);
  const d = new Elements(nb * a);
  for (let i = 0; i < a; i++) {
    const row = i * bTotal + c0;
    for (let j = 0; j < nb; j++) d[j * a + i] = s[row + j];
  }
  return new Uint8Array(d.buffer);
}
const transpose16 = (src: Uint8Array, a: number, bTotal: number, c0: number, nb: number) => transposeElements(Uint16Array, src, a, bTotal, c0, nb);
const transpose32 = (src: Uint8Array, a: number, bTotal: number, c0: number, nb: number) => transposeElements(Uint32Array, src, a, bTotal, c0, nb);

export interface SafetensorsTensors {
  readonly tensors: Map<string, TensorSource>;
  /** Vision/projector and other non-text tensors by HF name (raw entries). */
  readonly other: Map<string, { dtype: string; shape: readonly number[]; read(): Uint8Array }>;
  close(): void;
}

export interface OpenSafetensorsOptions {
  /** config.json's `quantization_config` (FP8 activation schemes); without it the formats infer from the tensors. */
  readonly quantizationConfig?: unknown;
}

export async function openSafetensorsTensors(path: string, opts: OpenSafetensorsOptions = {}): Promise<SafetensorsTensors> {
  const ck = await openSafetensors(path);
  const entries = [...ck.tensors.values()];
  await ck.close();
  const fds = new Map<string, number>();
  const fdOf = (file: string) => {
    let fd = fds.get(file);
    if (fd === undefined) {
      fd = openSync(file, "r");
      fds.set(file, fd);
    }
    return fd;
  };
  const tensors = new Map<string, TensorSource>();
  const other = new Map<string, { dtype: string; shape: readonly number[]; read(): Uint8Array }>();
  // Quantized formats (FP8 compressed-tensors, GPTQ, AWQ) and unfused float experts claim their tensors first.
  const quantized = quantizedSources(entries, (e) => readAt(fdOf(e.file), e.offset, e.byteLength, e.file), opts.quantizationConfig);
  for (const [name, source] of quantized.tensors) tensors.set(name, source);
  for (const e of entries) {
    if (quantized.consumed.has(e.name)) continue;
    const hfName = e.name;
    const file = e.file;
    const dt = DTYPES[e.dtype];
    const read = () => readAt(fdOf(file), e.offset, e.byteLength, file);
    const match = mapLlama4HfName(hfName);
    if (!match) {
      other.set(hfName, { dtype: e.dtype, shape: e.shape, read });
      continue;
    }
    if (!dt) throw new InputError("SAFETENSORS_DTYPE", `tensor ${hfName} has unsupported dtype ${e.dtype}`, { file });
    const layout = match.rule.layout;
    if (layout === "plain") {
      const ne = [...e.shape].reverse();
      const rowBytes = ne[0] * dt.bytes;
      tensors.set(match.gguf[0], {
        type: dt.type,
        ne,
        readSlice: () => read(),
        readRow: (row) => readAt(fdOf(file), e.offset + row * rowBytes, rowBytes, file),
      });
      continue;
    }
    // Fused experts: [E, a, b] row-major, expert e = an [a, b] matrix used as x @ W (in→out).
    const [E, a, b] = e.shape;
    if (e.shape.length !== 3) throw new InputError("SAFETENSORS_SHAPE", `fused expert tensor ${hfName} has shape [${e.shape}]`, { file });
    const expertBytes = a * b * dt.bytes;
    const transpose = dt.bytes === 2 ? transpose16 : transpose32;
    const readExpert = (x: number | undefined) => {
      if (x === undefined) throw new InputError("BAD_EXPERT", `fused tensor ${hfName} must be read per expert`, { file });
      return readAt(fdOf(file), e.offset + x * expertBytes, expertBytes, file);
    };
    const noRow = () => {
      throw new InputError("BAD_TENSOR_RANK", `fused tensor ${hfName} has no rows`, { file });
    };
    if (layout === "gate_up_fused") {
      // [E, hidden, 2·ff]: gate = columns [0, ff), up = [ff, 2ff); each becomes [ff rows × hidden cols].
      const ff = b / 2;
      match.gguf.forEach((g, part) => {
        tensors.set(g, {
          type: dt.type,
          ne: [a, ff, E],
          readSlice: (x) => transpose(readExpert(x), a, b, part * ff, ff),
          readRow: noRow,
        });
      });
    } else {
      // down [E, ff, hidden] → [hidden rows × ff cols].
      tensors.set(match.gguf[0], { type: dt.type, ne: [a, b, E], readSlice: (x) => transpose(readExpert(x), a, b, 0, b), readRow: noRow });
    }
  }
  return {
    tensors,
    other,
    close: () => {
      for (const fd of fds.values()) closeSync(fd);
      fds.clear();
    },
  };
}
