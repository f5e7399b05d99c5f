/**
 * llama.cpp importance-matrix files → per-tensor mean(x²) vectors as llama-quantize feeds them to
 * llama_model_quantize (tools/quantize/quantize.cpp load_imatrix + common/imatrix-loader.cpp):
 * GGUF format (`NAME.in_sum2` / `NAME.counts`, per expert for _exps tensors; value = sum / count, or 1
 * for an expert with no tokens) and the legacy .dat format (values stored × ncall).
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { GGMLType, InputError, openGguf, type GGUFKV } from "@moeq/formats";
import { ggufNumber, kvStr, kvU32 } from "./gguf-kv.js";

export interface ImatrixData {
  /** Tensor name → ne0·n_expert values (expert e at [e·ne0, (e+1)·ne0)). */
  readonly entries: Map<string, Float32Array>;
  readonly datasets: string[];
  /** imatrix.chunk_count (GGUF) or the legacy trailer's call count; 0 when absent. */
  readonly chunkCount: number;
  readonly legacy: boolean;
}

/** One entry as common_imatrix_load hands it over: raw sums and integer counts (one per expert, or one). */
export interface RawImatrixEntry {
  readonly sums: Float32Array;
  readonly counts: number[];
}

/** A whole imatrix file as common_imatrix_load reads it (common/imatrix-loader.cpp). */
export interface RawImatrix {
  /** Sorted by tensor name. GGUF: raw Σx² and token counts; legacy: mean·ncall and {ncall}. */
  readonly entries: Map<string, RawImatrixEntry>;
  readonly datasets: string[];
  readonly chunkCount: number;
  /** imatrix.chunk_size (GGUF); 0 for legacy files. */
  readonly chunkSize: number;
  readonly legacy: boolean;
}

/** Reads a GGUF imatrix (`NAME.in_sum2` + `NAME.counts` and the imatrix.* keys) or a legacy .dat file. */
export async function readImatrixRaw(path: string): Promise<RawImatrix> {
  const head = Buffer.alloc(4);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (cause) {
    throw new InputError("IMATRIX_OPEN", `cannot open imatrix: ${(cause as Error).message}`, { file: path, cause });
  }
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString("latin1") === "GGUF") return await readGGUFImatrix(path);
  return readLegacyImatrix(path, readFileSync(path));
}

/**
 * Per-tensor mean(x²) vectors as llama-quantize's load_imatrix builds them (tools/quantize/quantize.cpp):
 * GGUF: sum / count per expert (1 for an expert with no tokens); legacy: value / ncall.
 */
export async function readImatrix(path: string): Promise<ImatrixData> {
  const raw = await readImatrixRaw(path);
  const entries = new Map<string, Float32Array>();
  for (const [name, { sums, counts }] of raw.entries) {
    const out = new Float32Array(sums.length);
    if (!raw.legacy) {
      const ne0 = sums.length / counts.length;
      for (let j = 0; j < counts.length; j++) {
        const count = Math.fround(counts[j]);
        for (let i = 0; i < ne0; i++) out[j * ne0 + i] = count > 0 ? Math.fround(sums[j * ne0 + i] / count) : 1;
      }
    } else {
      const ncall = counts[0];
      for (let i = 0; i < sums.length; i++) out[i] = ncall > 0 ? Math.fround(sums[i] / ncall) : sums[i];
    }
    entries.set(name, out);
  }
  return { entries, datasets: raw.datasets, chunkCount: raw.chunkCount, legacy: raw.legacy };
}

/** Copies little-endian f32 bytes into their own Float32Array (Buffers may be slices of a shared pool). */
function f32Of(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

async function readGGUFImatrix(path: string): Promise<RawImatrix> {
  const f = await openGguf(path);
  try {
    const datasetsKV = f.get("imatrix.datasets");
    const cc = ggufNumber(f, "imatrix.chunk_count");
    const cs = ggufNumber(f, "imatrix.chunk_size");
    if (!datasetsKV || cc === undefined || cs === undefined) {
      throw new InputError("IMATRIX_METADATA", "not an imatrix: missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size)", {
        file: path,
      });
    }
    const datasets = Array.isArray(datasetsKV) ? datasetsKV.map(String) : [];
    if (f.tensors.length < 1) throw new InputError("IMATRIX_EMPTY", "no data in imatrix file", { file: path });
    const pairs = new Map<string, { sums?: (typeof f.tensors)[number]; counts?: (typeof f.tensors)[number] }>();
    for (const t of f.tensors) {
      if (t.name.endsWith(".in_sum2")) {
        const k = t.name.slice(0, -".in_sum2".length);
        pairs.set(k, { ...pairs.get(k), sums: t });
      } else if (t.name.endsWith(".counts")) {
        const k = t.name.slice(0, -".counts".length);
        pairs.set(k, { ...pairs.get(k), counts: t });
      }
    }
    const entries = new Map<string, RawImatrixEntry>();
    for (const [name, { sums, counts }] of [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (!sums || !counts) throw new InputError("IMATRIX_MISMATCH", `mismatched sums and counts for ${name}`, { file: path });
      if (sums.type !== GGMLType.F32 || counts.type !== GGMLType.F32)
        throw new InputError("IMATRIX_TYPE", `sums and counts for ${name} must be F32`, { file: path });
      const s = f32Of(await f.readTensorBytes(sums.name));
      const cRaw = f32Of(await f.readTensorBytes(counts.name));
      const nCounts = cRaw.length;
      if (nCounts < 1 || s.length % nCounts !== 0) throw new InputError("IMATRIX_SHAPE", `${name}: ${s.length} sums for ${nCounts} counts`, { file: path });
      entries.set(name, { sums: s, counts: Array.from(cRaw, (c) => Math.round(c)) }); // std::lround (values are non-negative)
    }
    return { entries, datasets, chunkCount: cc, chunkSize: cs, legacy: false };
  } finally {
    await f.close();
  }
}

function readLegacyImatrix(path: string, b: Buffer): RawImatrix {
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > b.length) throw new InputError("IMATRIX_TRUNCATED", "not an imatrix (neither GGUF nor a complete legacy .dat file)", { file: path });
  };
  const i32 = (): number => {
    need(4);
    const v = b.readInt32LE(pos);
    pos += 4;
    return v;
  };
  const n = i32();
  if (n < 1) throw new InputError("IMATRIX_EMPTY", "no data in imatrix file", { file: path });
  const raw: [string, RawImatrixEntry][] = [];
  for (let k = 0; k < n; k++) {
    const len = i32();
    if (len < 0) throw new InputError("IMATRIX_BAD", `bad name length for entry ${k}`, { file: path });
    need(len);
    const name = b.toString("utf8", pos, pos + len);
    pos += len;
    const ncall = i32();
    const nval = i32();
    if (nval < 1) throw new InputError("IMATRIX_BAD", `failed reading number of values for entry ${k}`, { file: path });
    need(nval * 4);
    const sums = new Float32Array(nval);
    for (let i = 0; i < nval; i++) sums[i] = b.readFloatLE(pos + i * 4);
    pos += nval * 4;
    raw.push([name, { sums, counts: [ncall] }]);
  }
  let chunkCount = 0;
  const datasets: string[] = [];
  if (pos + 4 <= b.length) {
    chunkCount = i32();
    if (pos + 4 <= b.length) {
      const len = i32();
      if (len > 0 && pos + len <= b.length) datasets.push(b.toString("utf8", pos, pos + len));
    }
  }
  const entries = new Map(raw.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  return { entries, datasets, chunkCount, chunkSize: 0, legacy: true };
}

export function assertImatrixFinite(im: ImatrixData, path: string): void {
  for (const [name, v] of im.entries) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new InputError("IMATRIX_NONFINITE", `imatrix contains non-finite value ${v[i]} in ${name}`, { file: path });
    }
  }
}

/**
 * The imatrix values a tensor of shape `ne` is quantized with (all experts' slices), as llama-quant.cpp picks
 * them: none when the file has no entry; the entry must hold ne0·ne2 values (token_embd mismatches are ignored).
 */
export function imatrixForTensor(im: ImatrixData, name: string, ne: readonly number[], path: string | undefined): Float32Array | undefined {
  const v = im.entries.get(name);
  if (!v) return undefined;
  const ne2 = ne.length >= 3 ? ne[2] : 1;
  if (v.length === ne[0] * ne2) return v;
  if (name === "token_embd.weight") return undefined;
  throw new InputError("IMATRIX_SIZE", `imatrix size ${v.length} is different from tensor size ${ne[0] * ne2} for ${name}`, { file: path });
}

/** The quantize.imatrix.* keys llama-quantize writes (file and dataset cut to 127 bytes as its snprintf does). */
export function imatrixKVs(im: ImatrixData, path: string): Map<string, GGUFKV> {
  const kvs = new Map<string, GGUFKV>();
  kvs.set("quantize.imatrix.file", kvStr(path.slice(0, 127)));
  if (im.datasets.length) kvs.set("quantize.imatrix.dataset", kvStr(im.datasets[0].slice(0, 127)));
  kvs.set("quantize.imatrix.entries_count", kvU32(im.entries.size));
  if (im.chunkCount > 0) kvs.set("quantize.imatrix.chunks_count", kvU32(im.chunkCount));
  return kvs;
}
