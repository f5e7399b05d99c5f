/**
 * GGUF → GGUF with llama.cpp's file-type mixtures: `llama_model_quantize` semantics (src/llama-quant.cpp).
 * Tensors are written in the loader's sorted order, KVs copied in order with general.quantization_version
 * and general.file_type re-appended at the end (split.* dropped), then the llama-quantize CLI's
 * `quantize.imatrix.*` keys when an imatrix is used. Tensor infos use ggml_n_dims like the C writer.
 */
import { GGMLType, GGML_TYPE_INFO, GGUFWriter, InputError, ggmlNDimsShape, openGguf, type GGUFFile } from "@moeq/formats";
import { ggufNumber, ggufString, kvStr, kvU32 } from "./gguf-kv.js";
import { chooseTensorTypes, llamaQuantizeOrder, type QuantizeTypeOptions } from "./tensor-type-choice.js";
import { planUnits, readGGUFUnit, readGGUFUnitRaw } from "./tensor-units.js";
import { EncodePool, runOrdered } from "./work-pool.js";
import { assertImatrixFinite, imatrixForTensor, imatrixKVs, readImatrix, type ImatrixData } from "./imatrix.js";
import { ExpertErrorCollector, writeExpertErrors, type ExpertErrorRow } from "./expert-errors.js";
import type { EncodeJob } from "./encode-rows.js";

export interface QuantizeGgufOptions extends Omit<QuantizeTypeOptions, "hasImatrix"> {
  readonly threads?: number;
  /** Path of a llama.cpp imatrix file (GGUF or legacy .dat). */
  readonly imatrixPath?: string;
  /** Called after each tensor: (index, total, name). */
  readonly onTensor?: (i: number, n: number, name: string) => void;
  /** Write per-(tensor, expert) RMSE rows here (JSON); measured only when set. */
  readonly expertErrorsPath?: string;
}

export interface QuantizeSummary {
  readonly tensors: { name: string; type: string; ne: number[]; bytes: number }[];
  readonly inputBytes: number;
  readonly outputBytes: number;
  readonly nElements: number;
  readonly bitsPerWeight: number;
  readonly seconds: number;
  /** Rows written to `expertErrorsPath`, when it was set. */
  readonly expertErrors?: readonly ExpertErrorRow[];
}

function modelFacts(f: GGUFFile) {
  const arch = ggufString(f, "general.architecture");
  if (!arch) throw new InputError("GGUF_NO_ARCH", "general.architecture is missing", { file: f.path });
  const n = (k: string): number | undefined => ggufNumber(f, `${arch}.${k}`);
  const nLayer = n("block_count");
  if (nLayer === undefined) throw new InputError("GGUF_KEY", `${arch}.block_count is missing`, { file: f.path });
  const nHead = n("attention.head_count") ?? 0;
  return { arch, nLayer, nExpert: n("expert_count") ?? 0, nHead, nHeadKv: n("attention.head_count_kv") ?? nHead };
}

export async function quantizeGguf(input: string, output: string, opts: QuantizeGgufOptions): Promise<QuantizeSummary> {
  const t0 = performance.now();
  const f = await openGguf(input);
  let writer: GGUFWriter | undefined;
  const pool = new EncodePool(opts.threads ?? 1);
  try {
    const facts = modelFacts(f);
    let imatrix: ImatrixData | undefined;
    if (opts.imatrixPath) {
      imatrix = await readImatrix(opts.imatrixPath);
      assertImatrixFinite(imatrix, opts.imatrixPath);
    }
    const ordered = llamaQuantizeOrder(f.tensors.map((t) => ({ ...t, ne: t.shape })));
    const types = chooseTensorTypes(ordered, facts, { ...opts, hasImatrix: imatrix !== undefined });

    writer = new GGUFWriter(output);
    const w = writer;
    for (const [k, v] of f.metadata) {
      if (k === "general.quantization_version" || k === "general.file_type" || k.startsWith("split.")) continue;
      w.setKV(k, v);
    }
    w.setKV("general.quantization_version", kvU32(2));
    w.setKV("general.file_type", kvU32(opts.ftype));
    if (imatrix && opts.imatrixPath) for (const [k, v] of imatrixKVs(imatrix, opts.imatrixPath)) w.setKV(k, v);
    // llama-quantize's C writer stores ggml_n_dims dims
    ordered.forEach((t, i) => w.addTensor(t.name, ggmlNDimsShape(t.shape), types[i]));
    await w.writeHeader();

    const imFor = (i: number): Float32Array | undefined => (imatrix ? imatrixForTensor(imatrix, ordered[i].name, ordered[i].ne, opts.imatrixPath) : undefined);

    const errors = opts.expertErrorsPath ? new ExpertErrorCollector() : undefined;
    let tensorIdx = 0;
    type Tag = { last: boolean; expert: number; n: number; raw?: Uint8Array };
    async function* jobs(): AsyncGenerator<{ job: EncodeJob; tag: Tag }> {
      for (let i = 0; i < ordered.length; i++) {
        const t = ordered[i];
        const type = types[i];
        const units = planUnits(t.ne);
        const im = type !== t.type ? imFor(i) : undefined;
        for (let k = 0; k < units.length; k++) {
          const u = units[k];
          const tag: Tag = { last: k === units.length - 1, expert: u.expert, n: u.nrows * t.ne[0] };
          if (type === t.type) {
            // copied unchanged (error 0 by construction): a trivial job keeps the write order in one queue
            yield { job: { type: GGMLType.F32, data: new Float32Array(0), nrows: 0, nPerRow: t.ne[0] }, tag: { ...tag, raw: await readGGUFUnitRaw(f, t, u) } };
          } else {
            const data = await readGGUFUnit(f, t, u);
            const imatrixSlice = im ? im.slice(u.expert * t.ne[0], (u.expert + 1) * t.ne[0]) : undefined;
            yield { job: { type, data, nrows: u.nrows, nPerRow: t.ne[0], imatrix: imatrixSlice, measureError: errors !== undefined }, tag };
          }
        }
      }
    }
    let outBytes = 0;
    await runOrdered(pool, jobs(), async (r, tag) => {
      const t = ordered[tensorIdx];
      const b = tag.raw ?? r.bytes;
      await w.writeTensorData(t.name, b);
      outBytes += b.length;
      errors?.add(t.name, t.ne, tag.expert, tag.raw ? 0 : (r.sumSquaredError ?? 0), tag.n);
      if (tag.last) {
        opts.onTensor?.(tensorIdx, ordered.length, t.name);
        tensorIdx++;
      }
    });
    await w.finish();
    writer = undefined;
    let expertErrors: ExpertErrorRow[] | undefined;
    if (errors && opts.expertErrorsPath) {
      expertErrors = errors.result();
      await writeExpertErrors(opts.expertErrorsPath, expertErrors);
    }
    const nElements = ordered.reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
    const inputBytes = ordered.reduce((a, t) => a + t.byteLength, 0);
    return {
      tensors: w.tensors.map((t, i) => ({ name: t.name, type: GGML_TYPE_INFO[t.type].name, ne: [...ordered[i].ne], bytes: t.byteLength })),
      inputBytes,
      outputBytes: outBytes,
      nElements,
      bitsPerWeight: (outBytes * 8) / nElements,
      seconds: (performance.now() - t0) / 1000,
      expertErrors,
    };
  } finally {
    await writer?.abort();
    await pool.close();
    await f.close();
  }
}
