/**
 * GGUF → GGUF with llama.cpp's file-type mixtures: `llama_model_quantize` semantics (src/llama-quant.cpp).
 * Tensors are written in the loader's sorted order, KVs copied in order with general.quantization_version
 * and general.file_type re-appended at the end (split.* dropped), then the llama-quantize CLI's
 * `quantize.imatrix.*` keys when an imatrix is used. Tensor infos use ggml_n_dims like the C writer.
 */
import { GGMLType, GGML_TYPE_INFO, GGUFWriter, InputError, ggmlNDimsShape, openGguf, type GGUFFile } from "@moeq/formats";
import { ggufNumber, ggufString, kvU32 } from "./gguf-kv.js";
import { chooseTensorTypes, llamaQuantizeOrder, tensorAllowsQuantization, tensorRequiresImatrix, type QuantizeTypeOptions } from "./tensor-type-choice.js";
import { readGGUFUnitRaw } from "./tensor-units.js";
import { checkFiniteGGUFUnit, readFiniteGGUFUnit } from "./non-finite.js";
import { EncodePool } from "./work-pool.js";
import { assertImatrixFinite, imatrixForTensor, imatrixKVs, readImatrix, type ImatrixData } from "./imatrix.js";
import { ExpertErrorCollector, type ExpertErrorRow } from "./expert-errors.js";
import { finishExpertErrors, writeSummary, type WriteSummary } from "./write-units.js";
import { checkShardable, writeGgufUnits } from "./shard/gguf-shard.js";
import { tensorCost } from "./shard/unit-cost.js";
import { inputStamp } from "./resume/resumable-output.js";
import type { ResumeNote } from "./resume/work-dir.js";
import type { ShardSpec } from "./shard/shard-spec.js";

export interface QuantizeGgufOptions extends Omit<QuantizeTypeOptions, "hasImatrix"> {
  readonly threads?: number;
  /** Path of a llama.cpp imatrix file (GGUF or legacy .dat). */
  readonly imatrixPath?: string;
  /** Called after each tensor: (index, total, name). */
  readonly onTensor?: (i: number, n: number, name: string) => void;
  /** Write per-(tensor, expert) RMSE rows here (JSON); measured only when set. */
  readonly expertErrorsPath?: string;
  /** Do only this shard's tensors and write `<output>.shard-i-of-N` (see writeGgufUnits). */
  readonly shard?: ShardSpec;
  /** Told what `<output>.partial/` held at the start (see ResumeWorkDir): units already done, in all. */
  readonly onResume?: (note: ResumeNote) => void;
}

export interface QuantizeSummary extends WriteSummary {
  /** Tensors that a killed earlier run had finished (not redone). */
  readonly resumedUnits: number;
  readonly inputBytes: number;
  /** Rows written to `expertErrorsPath`, when it was set. */
  readonly expertErrors?: readonly ExpertErrorRow[];
  /** The shard file written, with `shard`. */
  readonly shardFile?: string;
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

/**
 * llama_model_quantize's refusals, made before anything is written: without an imatrix, any quantized tensor whose
 * target needs one ("this quantization requires an imatrix!"); with one, such a tensor that has no entry in it
 * (llama.cpp finds that only when it reaches the tensor, after writing the header).
 */
function checkImatrixCoverage(
  ordered: readonly { readonly name: string; readonly ne: readonly number[]; readonly type: GGMLType }[],
  types: readonly GGMLType[],
  opts: QuantizeGgufOptions,
  imatrix: ImatrixData | undefined,
  input: string,
): void {
  ordered.forEach((t, i) => {
    const quantize = tensorAllowsQuantization(t, opts.quantizeOutputTensor ?? true) && types[i] !== t.type;
    if (!quantize || !tensorRequiresImatrix(t.name, types[i], opts.ftype)) return;
    const typeName = GGML_TYPE_INFO[types[i]].name;
    if (!imatrix) {
      throw new InputError("IMATRIX_REQUIRED", `this quantization requires an imatrix! (offending tensor: ${t.name}, target type: ${typeName})`, {
        file: input,
        details: { tensor: t.name, type: typeName },
      });
    }
    if (!imatrix.entries.has(t.name)) {
      throw new InputError("IMATRIX_MISSING_TENSOR", `Missing importance matrix for tensor ${t.name} in a very low-bit quantization`, {
        file: opts.imatrixPath,
        details: { tensor: t.name, type: typeName },
      });
    }
  });
}

export async function quantizeGguf(input: string, output: string, opts: QuantizeGgufOptions): Promise<QuantizeSummary> {
  const t0 = performance.now();
  checkShardable(opts.shard, opts.expertErrorsPath);
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
    checkImatrixCoverage(ordered, types, opts, imatrix, input);

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

    const imFor = (i: number): Float32Array | undefined => (imatrix ? imatrixForTensor(imatrix, ordered[i].name, ordered[i].ne, opts.imatrixPath) : undefined);

    const errors = opts.expertErrorsPath ? new ExpertErrorCollector() : undefined;
    const { outBytes, resumedUnits, pending } = await writeGgufUnits(
      w,
      {
        tensors: ordered,
        pool,
        errors,
        onTensor: opts.onTensor,
        costs: ordered.map((t, i) => tensorCost({ elements: t.ne.reduce((a, b) => a * b, 1), from: t.type, to: types[i], copy: types[i] === t.type })),
        unitWork: async (t, i, u) => {
          // a tensor that keeps its type is copied unchanged
          if (types[i] === t.type) {
            await checkFiniteGGUFUnit(f, t, u);
            return { raw: await readGGUFUnitRaw(f, t, u) };
          }
          const im = imFor(i);
          const imatrixSlice = im ? im.slice(u.expert * t.ne[0], (u.expert + 1) * t.ne[0]) : undefined;
          return { job: { type: types[i], data: await readFiniteGGUFUnit(f, t, u), nrows: u.nrows, nPerRow: t.ne[0], imatrix: imatrixSlice } };
        },
      },
      {
        inputs: JSON.stringify({ command: "quantize", imatrix: opts.imatrixPath ?? null }),
        localInputs: inputStamp([input, opts.imatrixPath]),
        shard: opts.shard,
        onResume: opts.onResume,
      },
    );
    writer = undefined;
    const written = await pending.finish();
    const shardFile = opts.shard ? written : undefined;
    const expertErrors = await finishExpertErrors(errors, opts.expertErrorsPath);
    const inputBytes = ordered.reduce((a, t) => a + t.byteLength, 0);
    return { ...writeSummary(w, ordered, outBytes, t0), resumedUnits, inputBytes, expertErrors, shardFile };
  } finally {
    await writer?.abort();
    await pool.close();
    await f.close();
  }
}
