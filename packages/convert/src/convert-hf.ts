/**
 * HF Llama 4 checkpoint directory → GGUF, streaming one unit (expert slice / bounded rows) at a time.
 * --outtype f32|f16|bf16|q8_0 writes what convert_hf_to_gguf.py writes (its tensor order and KVs).
 * Any other llama_ftype (q4_k_m, …) writes exactly what `convert --outtype f16` followed by
 * `quantize <ftype>` would: the f16 rounding is applied in memory, no intermediate file.
 */
import { basename, dirname, join } from "node:path";
import { GGMLType, GGML_TYPE_INFO, GGUFWriter, InputError, ggmlNDimsShape, type GGUFKV, type SafetensorsCheckpoint } from "@moeq/formats";
import { assertImatrixFinite, imatrixForTensor, imatrixKVs, readImatrix, type ImatrixData } from "./imatrix.js";
import { LlamaFType, ftypeDefaultType } from "./ftype.js";
import { readLlama4Config, planLlama4Tensors, llama4ModelKVs, type PlannedTensor, type Llama4Config } from "./arch/llama4.js";
import { planLlama4VisionTensors, llama4VisionKVs } from "./arch/llama4-vision.js";
import { tokenizerKVs } from "./tokenizer-gguf.js";
import { openCheckpoint, type CheckpointTensor } from "./checkpoint-index.js";
import { kvU32 } from "./gguf-kv.js";
import { ExpertErrorCollector, type ExpertErrorRow } from "./expert-errors.js";
import { chooseTensorTypes, llamaQuantizeOrder, type QuantizeTypeOptions } from "./tensor-type-choice.js";
import { readFinitePlannedUnit } from "./non-finite.js";
import { EncodePool } from "./work-pool.js";
import { finishExpertErrors, writeSummary, type WriteSummary } from "./write-units.js";
import { checkShardable, writeGgufUnits, type GgufRun } from "./shard/gguf-shard.js";
import { tensorCost } from "./shard/unit-cost.js";
import { inputStamp, type ResumableOutput } from "./resume/resumable-output.js";
import type { ResumeNote } from "./resume/work-dir.js";
import type { ShardSpec } from "./shard/shard-spec.js";

export interface ConvertOptions extends Partial<Omit<QuantizeTypeOptions, "ftype" | "hasImatrix">> {
  readonly outtype: LlamaFType;
  readonly threads?: number;
  readonly onTensor?: (i: number, n: number, name: string) => void;
  /** Largest unit of work in elements (tests shrink it to exercise row splitting). */
  readonly maxUnitElements?: number;
  /** Write per-(tensor, expert) RMSE rows of the main output here (JSON); measured only when set. */
  readonly expertErrorsPath?: string;
  /** Do only this shard's tensors and write `<output>.shard-i-of-N` (and the mmproj's, when there is one). */
  readonly shard?: ShardSpec;
  /** llama.cpp importance matrix (GGUF or legacy .dat) for quantized file types, as `quantize --imatrix`. */
  readonly imatrixPath?: string;
  /** Told what `<output>.partial/` held at the start (see ResumeWorkDir): units already done, in all. */
  readonly onResume?: (note: ResumeNote) => void;
}

export interface ConvertSummary extends WriteSummary {
  readonly output: string;
  /** Tensors of the main output that a killed earlier run had finished (not redone). */
  readonly resumedUnits: number;
  /** The projector file written next to the output when the checkpoint has a vision tower. */
  readonly mmproj?: { readonly output: string; readonly outputBytes: number; readonly tensors: number };
  /** Rows written to `expertErrorsPath`, when it was set. */
  readonly expertErrors?: readonly ExpertErrorRow[];
}

const CONVERTER_TYPES = new Set([LlamaFType.ALL_F32, LlamaFType.MOSTLY_F16, LlamaFType.MOSTLY_BF16, LlamaFType.MOSTLY_Q8_0]);

/** convert_hf_to_gguf's per-tensor type for --outtype f32/f16/bf16/q8_0 (prepare_tensors). */
export function converterTensorType(t: PlannedTensor, outtype: LlamaFType): GGMLType {
  if (t.forceF32) return GGMLType.F32;
  const q = ftypeDefaultType(outtype);
  // gguf-py raises QuantError when the row is not a multiple of the block; the converter then falls back to F16
  if (t.ne[0] % GGML_TYPE_INFO[q].blockSize !== 0) return GGMLType.F16;
  return q;
}

export interface ConvertPlan {
  readonly cfg: Llama4Config;
  readonly kvs: Map<string, GGUFKV>;
  readonly tensors: readonly PlannedTensor[];
  readonly types: readonly GGMLType[];
  /** Quantized mixtures: data is rounded through F16 first and infos use ggml_n_dims. */
  readonly viaF16: boolean;
  readonly visionTensors: readonly CheckpointTensor[];
  /** The mmproj file's tensors, types and KVs when the checkpoint has a vision tower. */
  readonly mmproj?: { readonly tensors: readonly PlannedTensor[]; readonly types: readonly GGMLType[]; readonly kvs: Map<string, GGUFKV> };
}

/** Everything about the output except the tensor bytes. */
export function planConversion(dir: string, ckpt: readonly CheckpointTensor[], opts: ConvertOptions, imatrix?: ImatrixData): ConvertPlan {
  const cfg = readLlama4Config(dir);
  const planned = planLlama4Tensors(cfg, ckpt, dir);
  const visionTensors = ckpt.filter((t) => t.name.includes("vision_model") || t.name.includes("multi_modal_projector"));
  let mmproj: ConvertPlan["mmproj"];
  if (visionTensors.length > 0) {
    // planned (and its config validated) before any byte is written
    const vt = planLlama4VisionTensors(visionTensors);
    const ftype = CONVERTER_TYPES.has(opts.outtype) ? opts.outtype : LlamaFType.MOSTLY_F16;
    mmproj = { tensors: vt, types: vt.map((t) => mmprojTensorType(t, ftype)), kvs: llama4VisionKVs(cfg, dir, vt, ftype) };
  }
  const tok = tokenizerKVs(dir, { vocabSize: cfg.vocabSize, pre: "llama4" });
  if (CONVERTER_TYPES.has(opts.outtype)) {
    const kvs = llama4ModelKVs(cfg, { fileType: opts.outtype, dir, tensors: planned });
    for (const [k, v] of tok) kvs.set(k, v);
    return { cfg, kvs, tensors: planned, types: planned.map((t) => converterTensorType(t, opts.outtype)), viaF16: false, visionTensors, mmproj };
  }
  // convert f16 → llama-quantize: KVs copied, quantization_version and file_type re-appended last
  const f16kvs = llama4ModelKVs(cfg, { fileType: LlamaFType.MOSTLY_F16, dir, tensors: planned });
  for (const [k, v] of tok) f16kvs.set(k, v);
  const kvs = new Map<string, GGUFKV>();
  for (const [k, v] of f16kvs) if (k !== "general.quantization_version" && k !== "general.file_type") kvs.set(k, v);
  kvs.set("general.quantization_version", kvU32(2));
  kvs.set("general.file_type", kvU32(opts.outtype));
  if (imatrix && opts.imatrixPath) for (const [k, v] of imatrixKVs(imatrix, opts.imatrixPath)) kvs.set(k, v);
  const ordered = llamaQuantizeOrder(planned);
  const f16Types = ordered.map((t) => converterTensorType(t, LlamaFType.MOSTLY_F16));
  const types = chooseTensorTypes(
    ordered.map((t, i) => ({ name: t.name, ne: t.ne, type: f16Types[i] })),
    { arch: "llama4", nLayer: cfg.nLayer, nExpert: cfg.nExpert, nHead: cfg.nHead, nHeadKv: cfg.nHeadKv },
    { ...opts, ftype: opts.outtype, hasImatrix: imatrix !== undefined },
  );
  return { cfg, kvs, tensors: ordered, types, viaF16: true, visionTensors, mmproj };
}

/** mmproj tensor types: the converter's rules plus MmprojModel.tensor_force_quant for the patch embedding. */
function mmprojTensorType(t: PlannedTensor, outtype: LlamaFType): GGMLType {
  if (t.name.includes(".patch_embd.weight")) return outtype === LlamaFType.MOSTLY_F16 ? GGMLType.F16 : GGMLType.F32;
  return converterTensorType(t, outtype);
}

/** `-o dir/x.gguf` → `dir/mmproj-x.gguf` (llama.cpp's naming for the projector file). */
export function mmprojPath(output: string): string {
  return join(dirname(output), `mmproj-${basename(output)}`);
}

/** One GGUF file of a conversion (the model, or its mmproj) and where its tensors come from. */
interface PlannedFile {
  readonly output: string;
  readonly kvs: Map<string, GGUFKV>;
  readonly tensors: readonly PlannedTensor[];
  readonly types: readonly GGMLType[];
  /** Quantized mixtures: round through F16 first and store ggml_n_dims dims, as convert + llama-quantize would. */
  readonly viaF16: boolean;
  readonly reader: SafetensorsCheckpoint;
  readonly pool: EncodePool;
  readonly maxUnitElements?: number;
  readonly onTensor?: (i: number, n: number, name: string) => void;
  readonly errors?: ExpertErrorCollector;
  /** Importance matrix for the quantized types (`imatrixPath` names it in errors). */
  readonly imatrix?: ImatrixData;
  readonly imatrixPath?: string;
  readonly run: GgufRun;
}

async function writePlanned(f: PlannedFile): Promise<{ writer: GGUFWriter; outBytes: number; resumedUnits: number; pending: ResumableOutput }> {
  const { output, kvs, tensors, types, viaF16, reader, pool, errors } = f;
  const writer = new GGUFWriter(output);
  for (const [k, v] of kvs) writer.setKV(k, v);
  // quantized mixtures reproduce llama-quantize's C writer, which stores ggml_n_dims dims
  tensors.forEach((t, i) => writer.addTensor(t.name, viaF16 ? ggmlNDimsShape(t.ne) : [...t.ne], types[i]));
  let committed = false;
  try {
    const { outBytes, resumedUnits, pending } = await writeGgufUnits(
      writer,
      {
        tensors,
        pool,
        errors,
        maxUnitElements: f.maxUnitElements,
        onTensor: f.onTensor,
        costs: tensors.map((t, i) => tensorCost({ elements: t.ne.reduce((a, b) => a * b, 1), from: GGMLType[t.srcDtype], to: types[i], copy: false })),
        unitWork: async (t, i, u) => {
          // F32-kept tensors are never rounded: in the f16 intermediate they stay F32
          const f16Type = converterTensorType(t, LlamaFType.MOSTLY_F16);
          const roundF16 = viaF16 && f16Type === GGMLType.F16;
          // llama-quantize hands the imatrix only to tensors it converts to another type
          const im = f.imatrix && viaF16 && types[i] !== f16Type ? imatrixForTensor(f.imatrix, t.name, t.ne, f.imatrixPath) : undefined;
          const imatrix = im ? im.slice(u.expert * t.ne[0], (u.expert + 1) * t.ne[0]) : undefined;
          return { job: { type: types[i], data: await readFinitePlannedUnit(reader, t, u), nrows: u.nrows, nPerRow: t.ne[0], viaF16: roundF16, imatrix } };
        },
      },
      f.run,
    );
    committed = true;
    return { writer, outBytes, resumedUnits, pending };
  } finally {
    if (!committed) await writer.abort();
  }
}

/**
 * Converts the checkpoint in `dir` to `output`. When the checkpoint has a vision tower, its mmproj GGUF is
 * written next to it as `mmproj-<output name>` (F16 unless --outtype is f32/bf16/q8_0).
 */
export async function convertHfToGguf(dir: string, output: string, opts: ConvertOptions): Promise<ConvertSummary> {
  const t0 = performance.now();
  checkShardable(opts.shard, opts.expertErrorsPath);
  const run: GgufRun = {
    inputs: JSON.stringify({ command: "convert", imatrix: opts.imatrixPath ?? null }),
    localInputs: inputStamp([dir, opts.imatrixPath]),
    shard: opts.shard,
    onResume: opts.onResume,
  };
  const { checkpoint, tensors } = await openCheckpoint(dir);
  const pool = new EncodePool(opts.threads ?? 1);
  try {
    let imatrix: ImatrixData | undefined;
    if (opts.imatrixPath) {
      if (CONVERTER_TYPES.has(opts.outtype))
        throw new InputError("IMATRIX_OUTTYPE", "--imatrix applies to quantized file types (q4_k_m, …), not f32/f16/bf16/q8_0", { file: opts.imatrixPath });
      imatrix = await readImatrix(opts.imatrixPath);
      assertImatrixFinite(imatrix, opts.imatrixPath);
    }
    const plan = planConversion(dir, tensors, opts, imatrix);
    const errors = opts.expertErrorsPath ? new ExpertErrorCollector() : undefined;
    const common = { reader: checkpoint, pool, maxUnitElements: opts.maxUnitElements, run };
    const main = await writePlanned({
      ...common,
      output,
      kvs: plan.kvs,
      tensors: plan.tensors,
      types: plan.types,
      viaF16: plan.viaF16,
      onTensor: opts.onTensor,
      errors,
      imatrix,
      imatrixPath: opts.imatrixPath,
    });
    // both files are renamed into place only when both are complete (a killed run resumes either)
    let mmproj: ConvertSummary["mmproj"];
    let projector: Awaited<ReturnType<typeof writePlanned>> | undefined;
    try {
      if (plan.mmproj) {
        const path = mmprojPath(output);
        projector = await writePlanned({
          ...common,
          output: path,
          kvs: plan.mmproj.kvs,
          tensors: plan.mmproj.tensors,
          types: plan.mmproj.types,
          viaF16: false,
        });
        mmproj = { output: path, outputBytes: projector.outBytes, tensors: projector.writer.tensors.length };
      }
      await main.pending.finish();
      await projector?.pending.finish();
    } catch (err) {
      await main.pending.discard();
      await projector?.pending.discard();
      throw err;
    }
    const { writer, outBytes, resumedUnits } = main;
    const expertErrors = await finishExpertErrors(errors, opts.expertErrorsPath);
    return { output, ...writeSummary(writer, plan.tensors, outBytes, t0), resumedUnits, mmproj, expertErrors };
  } finally {
    await checkpoint.close();
    await pool.close();
  }
}
