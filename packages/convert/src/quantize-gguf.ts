/**
 * GGUF → GGUF with llama.cpp's file-type mixtures: `llama_model_quantize` semantics (src/llama-quant.cpp).
 * Tensors are written in the loader's sorted order, KVs copied in order with general.quantization_version
 * and general.file_type re-appended at the end (split.* dropped), then the llama-quantize CLI's
 * `quantize.imatrix.*` keys when an imatrix is used. Tensor infos use ggml_n_dims like the C writer.
 */
import { GGMLType, GGML_TYPE_INFO, InputError } from "@moeq/formats";
import { GGUFFile, GGUFValueType, StreamingGGUFWriter, kvStr, kvU32, tensorNBytes, type GGUFKV, type GGUFTensorInfo } from "./internal/gguf-io.js";
import { chooseTensorTypes, llamaQuantizeOrder, type QuantizeTypeOptions } from "./tensor-type-choice.js";
import { planUnits, readGGUFUnit, readGGUFUnitRaw } from "./tensor-units.js";
import { EncodePool, runOrdered } from "./work-pool.js";
import { assertImatrixFinite, readImatrix, type ImatrixData } from "./imatrix.js";
import type { EncodeJob } from "./encode-rows.js";

export interface QuantizeGgufOptions extends Omit<QuantizeTypeOptions, "hasImatrix"> {
  readonly threads?: number;
  /** Path of a llama.cpp imatrix file (GGUF or legacy .dat). */
  readonly imatrixPath?: string;
  /** Called after each tensor: (index, total, name). */
  readonly onTensor?: (i: number, n: number, name: string) => void;
}

export interface QuantizeSummary {
  readonly tensors: { name: string; type: string; ne: number[]; bytes: number }[];
  readonly inputBytes: number;
  readonly outputBytes: number;
  readonly nElements: number;
  readonly bitsPerWeight: number;
  readonly seconds: number;
}

function modelFacts(f: GGUFFile) {
  const arch = f.kvString("general.architecture");
  if (!arch) throw new InputError("GGUF_NO_ARCH", "general.architecture is missing", { file: f.path });
  const n = (k: string): number | undefined => {
    const v = f.kvs.get(`${arch}.${k}`);
    if (!v) return undefined;
    if (v.type === GGUFValueType.ARRAY) return Number(v.value[0]);
    return Number(v.value);
  };
  const nLayer = n("block_count");
  if (nLayer === undefined) throw new InputError("GGUF_KEY", `${arch}.block_count is missing`, { file: f.path });
  const nHead = n("attention.head_count") ?? 0;
  return { arch, nLayer, nExpert: n("expert_count") ?? 0, nHead, nHeadKv: n("attention.head_count_kv") ?? nHead };
}

export async function quantizeGguf(input: string, output: string, opts: QuantizeGgufOptions): Promise<QuantizeSummary> {
  const t0 = performance.now();
  const f = GGUFFile.open(input);
  let writer: StreamingGGUFWriter | undefined;
  const pool = new EncodePool(opts.threads ?? 1);
  try {
    const facts = modelFacts(f);
    let imatrix: ImatrixData | undefined;
    if (opts.imatrixPath) {
      imatrix = readImatrix(opts.imatrixPath);
      assertImatrixFinite(imatrix, opts.imatrixPath);
    }
    const ordered = llamaQuantizeOrder(f.tensors);
    const types = chooseTensorTypes(ordered, facts, { ...opts, hasImatrix: imatrix !== undefined });

    const kvs = new Map<string, GGUFKV>();
    for (const [k, v] of f.kvs) {
      if (k === "general.quantization_version" || k === "general.file_type" || k.startsWith("split.")) continue;
      kvs.set(k, v);
    }
    kvs.set("general.quantization_version", kvU32(2));
    kvs.set("general.file_type", kvU32(opts.ftype));
    if (imatrix && opts.imatrixPath) {
      kvs.set("quantize.imatrix.file", kvStr(opts.imatrixPath.slice(0, 127)));
      if (imatrix.datasets.length) kvs.set("quantize.imatrix.dataset", kvStr(imatrix.datasets[0].slice(0, 127)));
      kvs.set("quantize.imatrix.entries_count", kvU32(imatrix.entries.size));
      if (imatrix.chunkCount > 0) kvs.set("quantize.imatrix.chunks_count", kvU32(imatrix.chunkCount));
    }
    const infos: GGUFTensorInfo[] = ordered.map((t, i) => ({ name: t.name, ne: t.ne, type: types[i] }));
    writer = new StreamingGGUFWriter(output, kvs, infos, { trimDims: true });
    const w = writer;

    // Which imatrix slice each tensor uses; llama-quant.cpp requires size == ne0·ne2 (token_embd mismatches are ignored).
    const imFor = (i: number): Float32Array | undefined => {
      if (!imatrix) return undefined;
      const t = ordered[i];
      const v = imatrix.entries.get(t.name);
      if (!v) return undefined;
      const ne2 = t.ne.length >= 3 ? t.ne[2] : 1;
      if (v.length === t.ne[0] * ne2) return v;
      if (t.name === "token_embd.weight") return undefined;
      throw new InputError("IMATRIX_SIZE", `imatrix size ${v.length} is different from tensor size ${t.ne[0] * ne2} for ${t.name}`, { file: opts.imatrixPath });
    };

    let tensorIdx = 0;
    function* jobs(): Generator<{ job: EncodeJob; tag: { last: boolean; raw?: Uint8Array } }> {
      for (let i = 0; i < ordered.length; i++) {
        const t = ordered[i];
        const type = types[i];
        const units = planUnits(t.ne);
        const im = type !== t.type ? imFor(i) : undefined;
        for (let k = 0; k < units.length; k++) {
          const u = units[k];
          const last = k === units.length - 1;
          if (type === t.type) {
            // copied unchanged: a trivial job keeps the write order in one queue
            yield { job: { type: GGMLType.F32, data: new Float32Array(0), nrows: 0, nPerRow: t.ne[0] }, tag: { last, raw: readGGUFUnitRaw(f, t, u) } };
          } else {
            const data = readGGUFUnit(f, t, u);
            yield { job: { type, data, nrows: u.nrows, nPerRow: t.ne[0], imatrix: im ? im.slice(u.expert * t.ne[0], (u.expert + 1) * t.ne[0]) : undefined }, tag: { last } };
          }
        }
      }
    }
    let outBytes = 0;
    await runOrdered(pool, jobs(), (bytes, tag) => {
      const b = tag.raw ?? bytes;
      w.write(b);
      outBytes += b.length;
      if (tag.last) {
        w.endTensor();
        opts.onTensor?.(tensorIdx, ordered.length, ordered[tensorIdx].name);
        tensorIdx++;
      }
    });
    writer.finish();
    writer = undefined;
    const nElements = ordered.reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
    const inputBytes = ordered.reduce((a, t) => a + t.nbytes, 0);
    return {
      tensors: infos.map((t) => ({ name: t.name, type: GGML_TYPE_INFO[t.type].name, ne: [...t.ne], bytes: tensorNBytes(t.type, t.ne) })),
      inputBytes,
      outputBytes: outBytes,
      nElements,
      bitsPerWeight: (outBytes * 8) / nElements,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    writer?.abort();
    await pool.close();
    f.close();
  }
}

