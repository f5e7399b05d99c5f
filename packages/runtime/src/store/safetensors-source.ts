/**
 * HF safetensors checkpoint (one file, a directory of shards, or a directory with model.safetensors.index.json)
 * presented as GGUF-named TensorSources through `mapLlama4HfName`. Fused expert tensors are viewed per expert:
 * one expert's slice is read by byte range and transposed to the [out, in] layout on load.
 */
import { openSync, readSync, closeSync, readFileSync, existsSync, statSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { GGMLType, InputError } from "@moeq/formats";
import { mapLlama4HfName } from "../llama4/names.js";
import type { TensorSource } from "./weight-store.js";

interface StEntry {
  readonly file: string;
  readonly fd: number;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

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

/** Parses one safetensors header; tensors keep HF names. */
export function readSafetensorsHeader(file: string, fd: number): Map<string, StEntry> {
  const size = statSync(file).size;
  if (size < 8) throw new InputError("SAFETENSORS_TRUNCATED", "file is shorter than the 8-byte header length", { file });
  const lenBytes = readAt(fd, 0, 8, file);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > size - 8 || headerLen > 100 * 1024 * 1024) {
    throw new InputError("SAFETENSORS_BAD_HEADER", `header length ${headerLen} exceeds the file size ${size}`, { file });
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(readAt(fd, 8, headerLen, file)));
  } catch (cause) {
    throw new InputError("SAFETENSORS_BAD_HEADER", "header is not valid JSON", { file, cause });
  }
  const base = 8 + headerLen;
  const out = new Map<string, StEntry>();
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [b, en] = e.data_offsets;
    if (!(en >= b) || base + en > size) {
      throw new InputError("SAFETENSORS_BAD_OFFSETS", `tensor ${name} data [${b}, ${en}) lies outside the file`, { file });
    }
    out.set(name, { file, fd, dtype: e.dtype, shape: e.shape, offset: base + b, byteLength: en - b });
  }
  return out;
}

function shardFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const index = join(path, "model.safetensors.index.json");
  if (existsSync(index)) {
    const map = (JSON.parse(readFileSync(index, "utf8")) as { weight_map: Record<string, string> }).weight_map;
    return [...new Set(Object.values(map))].sort().map((f) => join(path, f));
  }
  const files = readdirSync(path).filter((f) => f.endsWith(".safetensors")).sort();
  if (files.length === 0) throw new InputError("NO_WEIGHTS", "directory holds no .safetensors files", { file: path });
  return files.map((f) => join(path, f));
}

/** Transposes a [a, b] matrix of 2-byte elements into [b, a], taking columns [c0, c0+nb) of the source. */
function transpose16(src: Uint8Array, a: number, bTotal: number, c0: number, nb: number): Uint8Array {
  const s = new Uint16Array(src.buffer, src.byteOffset, a * bTotal);
  const d = new Uint16Array(nb * a);
  for (let i = 0; i < a; i++) {
    const row = i * bTotal + c0;
    for (let j = 0; j < nb; j++) d[j * a + i] = s[row + j];
  }
  return new Uint8Array(d.buffer);
}

function transpose32(src: Uint8Array, a: number, bTotal: number, c0: number, nb: number): Uint8Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, a * bTotal);
  const d = new Uint32Array(nb * a);
  for (let i = 0; i < a; i++) {
    const row = i * bTotal + c0;
    for (let j = 0; j < nb; j++) d[j * a + i] = s[row + j];
  }
  return new Uint8Array(d.buffer);
}

export interface SafetensorsTensors {
  readonly tensors: Map<string, TensorSource>;
  /** Vision/projector and other non-text tensors by HF name (raw entries). */
  readonly other: Map<string, { dtype: string; shape: readonly number[]; read(): Uint8Array }>;
  close(): void;
}

export function openSafetensorsTensors(path: string): SafetensorsTensors {
  const fds: number[] = [];
  const tensors = new Map<string, TensorSource>();
  const other = new Map<string, { dtype: string; shape: readonly number[]; read(): Uint8Array }>();
  try {
    for (const file of shardFiles(path)) {
      const fd = openSync(file, "r");
      fds.push(fd);
      for (const [hfName, e] of readSafetensorsHeader(file, fd)) {
        const dt = DTYPES[e.dtype];
        const read = () => readAt(e.fd, e.offset, e.byteLength, e.file);
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
            readRow: (row) => readAt(e.fd, e.offset + row * rowBytes, rowBytes, e.file),
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
          return readAt(e.fd, e.offset + x * expertBytes, expertBytes, e.file);
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
    }
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
  return {
    tensors,
    other,
    close: () => {
      for (const fd of fds.splice(0)) closeSync(fd);
    },
  };
}
