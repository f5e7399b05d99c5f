/**
 * `moeq fp8`: HF Llama 4 checkpoint → FP8 E4M3 compressed-tensors checkpoint (format "float-quantized") that
 * vLLM and Transformers load, streaming one matrix (one Linear, or one expert of a stacked expert tensor) at a
 * time. Output: sharded safetensors + index, config.json with `quantization_config`, the tokenizer / processor /
 * chat-template files, all written in a temp folder that is renamed into place when complete.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError, encodeFromFloat32, type SafetensorsCheckpoint } from "@moeq/formats";
import { FP8_BLOCK_SIZE, encodeFp8, fp8ScaleFromAbsMax, fp8Scales, type Fp8Scheme } from "@moeq/quant";
import { isMultimodalTensor, planLlama4Tensors, readLlama4Config } from "../arch/llama4.js";
import { openCheckpoint, type CheckpointTensor } from "../checkpoint-index.js";
import { readFiniteMatrix } from "../read-matrix.js";
import { checkOutputDir } from "../output-dir.js";
import { ResumableOutput, inputStamp } from "../resume/resumable-output.js";
import type { ResumeNote } from "../resume/work-dir.js";
import { unitsOfShard, type ShardSpec } from "../shard/shard-spec.js";
import { FP8_SHARD_KIND, fp8Fingerprint, planFp8Output } from "./fp8-layout.js";
import { compressedTensorsFp8Config, type Fp8Activations } from "./compressed-tensors-config.js";
import { planQuantizedLinears, type LinearMatrix, type LinearPlanItem } from "../linear-plan.js";
import { activationAbsMaxFor, collectActivationAbsMax, type ActivationAbsMax } from "./activation-absmax.js";

export interface Fp8ConvertOptions {
  readonly scheme: Fp8Scheme;
  /** Quantize only the routed experts (attention, shared expert, dense FFNs stay BF16). */
  readonly expertsOnly?: boolean;
  /** "dynamic" (default): scales computed per token at run time; "static": calibrated `input_scale` (per-tensor only). */
  readonly activations?: Fp8Activations;
  /** Calibration text for static activation scales. */
  readonly data?: string;
  /** Calibration window (tokens) and window count. */
  readonly ctx?: number;
  readonly maxWindows?: number;
  /** Shard size limit in bytes (default 5 GB, as Transformers' save_pretrained). */
  readonly maxShardBytes?: number;
  readonly onTensor?: (i: number, n: number, name: string) => void;
  /** Do only this shard's units (one Linear, expert or copied tensor each) and write `<output>.shard-i-of-N`. */
  readonly shard?: ShardSpec;
  /** Told what `<output>.partial/` held at the start (see ResumeWorkDir). */
  readonly onResume?: (note: ResumeNote) => void;
}

export interface Fp8Summary {
  readonly output: string;
  readonly files: string[];
  readonly scheme: Fp8Scheme;
  readonly activations: Fp8Activations;
  readonly expertsOnly: boolean;
  /** Matrices quantized (one per Linear, one per expert projection). */
  readonly quantizedMatrices: number;
  readonly quantizedWeights: number;
  /** Tensor data written (headers excluded), and the text model's share with its element count. */
  readonly outputBytes: number;
  readonly textBytes: number;
  readonly textElements: number;
  readonly bitsPerWeight: number;
  readonly seconds: number;
  /** Units (matrices, copied tensors) that a killed earlier run had finished (not redone). */
  readonly resumedUnits: number;
  /** Quantized weights per second of the whole run (reading and writing included). */
  readonly weightsPerSecond: number;
  readonly calibration?: { readonly windows: number; readonly tokens: number; readonly expertFallbacks: string[] };
}

const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;
const COPY_CHUNK_BYTES = 64 << 20;

function checkOptions(hfDir: string, o: Fp8ConvertOptions): Fp8Activations {
  const activations = o.activations ?? "dynamic";
  if (activations === "static") {
    if (o.scheme !== "per-tensor") {
      throw new InputError(
        "FP8_SCHEME_MISMATCH",
        `static activation scales pair with --scheme per-tensor only (vLLM accepts per-channel and block weights with dynamic activations); got --scheme ${o.scheme}`,
      );
    }
    if (!o.data) throw new InputError("USAGE", "--activations static needs calibration text (--data FILE)");
  } else if (o.data) {
    throw new InputError("USAGE", "--data is only used with --activations static");
  }
  if (o.maxShardBytes !== undefined && !(Number.isSafeInteger(o.maxShardBytes) && o.maxShardBytes > 0)) {
    throw new InputError("USAGE", `shard size must be a positive number of bytes, got ${o.maxShardBytes}`, { file: hfDir });
  }
  return activations;
}

/**
 * Block weights come with per-token-group activations of FP8_BLOCK_SIZE inputs (vLLM's per_token_group_quant_fp8,
 * our runtime's loader): a Linear whose input width the group does not divide could be written but not served.
 */
function checkBlockShapes(hfDir: string, items: readonly LinearPlanItem[]): void {
  for (const it of items) {
    if (it.kind === "quantize" && it.cols % FP8_BLOCK_SIZE !== 0) {
      throw new InputError(
        "FP8_SCHEME_MISMATCH",
        `${it.base}: --scheme block quantizes activations in groups of ${FP8_BLOCK_SIZE}, which do not divide the ${it.cols} inputs of a ${it.rows}×${it.cols} weight; use --scheme per-channel`,
        { file: hfDir },
      );
    }
  }
}

async function copyTensor(reader: SafetensorsCheckpoint, out: ResumableOutput, src: CheckpointTensor): Promise<void> {
  for (let start = 0; start < src.byteLength; start += COPY_CHUNK_BYTES) {
    const end = Math.min(src.byteLength, start + COPY_CHUNK_BYTES);
    await out.write(src.name, await reader.readBytes(src.name, { start, end }));
  }
}

function configWithQuantization(hfDir: string, quantization: Record<string, unknown>): string {
  const file = join(hfDir, "config.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  return JSON.stringify({ ...raw, quantization_config: quantization }, null, 2) + "\n";
}

export async function convertToFp8(hfDir: string, output: string, opts: Fp8ConvertOptions): Promise<Fp8Summary> {
  const t0 = performance.now();
  const activations = checkOptions(hfDir, opts);
  checkOutputDir(output);
  const expertsOnly = opts.expertsOnly ?? false;
  const { checkpoint, tensors } = await openCheckpoint(hfDir);
  try {
    const cfg = readLlama4Config(hfDir);
    const text = planLlama4Tensors(cfg, tensors, hfDir);
    const items = planQuantizedLinears(
      text,
      tensors.filter((t) => isMultimodalTensor(t.name)),
      expertsOnly,
    );
    if (opts.scheme === "block") checkBlockShapes(hfDir, items);
    let calib: ActivationAbsMax | undefined;
    if (activations === "static") calib = await collectActivationAbsMax(hfDir, opts.data!, { ctx: opts.ctx, maxWindows: opts.maxWindows });
    const inputAbsMax = new Map<LinearMatrix, number>();
    const expertFallbacks: string[] = [];
    if (calib) {
      for (const it of items) {
        if (it.kind !== "quantize") continue;
        const a = activationAbsMaxFor(calib.absMax, it.tap);
        if (!a) throw new InputError("CALIBRATION_TOO_SHORT", `no calibration activations reached ${it.base}; use more --data`, { file: opts.data });
        if (a.fallback) expertFallbacks.push(it.base);
        inputAbsMax.set(it, a.value);
      }
    }
    const staticInputs = calib !== undefined;
    const config = configWithQuantization(hfDir, compressedTensorsFp8Config(opts.scheme, activations, expertsOnly));
    const layout = planFp8Output(hfDir, items, opts.scheme, staticInputs, opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, config);
    const costs = layout.units.map((u) => u.pieces.reduce((a, p) => a + p.length, 0));
    const mine = opts.shard ? unitsOfShard(costs, opts.shard) : items.map((_, i) => i);
    const out = await ResumableOutput.open({
      output,
      files: layout.files,
      fixed: layout.fixed,
      units: mine.map((i) => layout.units[i]!),
      fingerprint: fp8Fingerprint(
        { scheme: opts.scheme, expertsOnly, activations, ctx: opts.ctx ?? null, windows: opts.maxWindows ?? null },
        opts.data,
        layout,
      ),
      localInputs: inputStamp([hfDir, opts.data]),
      shard: opts.shard ? { spec: opts.shard, kind: FP8_SHARD_KIND, totalUnits: layout.totalPieces, extra: { files: layout.files } } : undefined,
      onResume: opts.onResume,
    });
    let result: { quantizedWeights: number; textBytes: number; textElements: number; resumedUnits: number; written: string };
    try {
      let quantizedWeights = 0;
      let textBytes = 0;
      let textElements = 0;
      let resumedUnits = 0;
      for (let j = 0; j < mine.length; j++) {
        const i = mine[j]!;
        const it: LinearPlanItem = items[i]!;
        const unit = layout.units[i]!;
        const done = out.isDone(unit.unit);
        if (done) resumedUnits++;
        if (it.kind === "copy") {
          if (!done) {
            await copyTensor(checkpoint, out, it.src);
            await out.complete(unit.unit);
          }
          if (!isMultimodalTensor(it.src.name)) {
            textBytes += it.src.byteLength;
            textElements += it.src.shape.reduce((a, b) => a * b, 1);
          }
        } else {
          if (!done) {
            const w = await readFiniteMatrix(checkpoint, it.planned, it.expert, it.rows, it.cols);
            const scales = fp8Scales(w, it.rows, it.cols, opts.scheme);
            await out.write(`${it.base}.weight`, encodeFp8(w, it.rows, it.cols, opts.scheme, scales));
            await out.write(`${it.base}.weight_scale`, encodeFromFloat32(scales, "F32"));
            const a = inputAbsMax.get(it);
            if (a !== undefined) await out.write(`${it.base}.input_scale`, encodeFromFloat32(Float32Array.of(fp8ScaleFromAbsMax(a)), "F32"));
            await out.complete(unit.unit);
          }
          textBytes += costs[i]!;
          quantizedWeights += it.rows * it.cols;
          textElements += it.rows * it.cols;
        }
        opts.onTensor?.(j, mine.length, unit.unit);
      }
      const written = await out.finish();
      result = { quantizedWeights, textBytes, textElements, resumedUnits, written };
    } catch (err) {
      await out.discard();
      throw err;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      output: result.written,
      files: opts.shard ? [result.written] : layout.weightFiles.map((f) => join(output, f)),
      scheme: opts.scheme,
      activations,
      expertsOnly,
      quantizedMatrices: mine.filter((i) => items[i]!.kind === "quantize").length,
      quantizedWeights: result.quantizedWeights,
      outputBytes: layout.tensorBytes,
      resumedUnits: result.resumedUnits,
      textBytes: result.textBytes,
      textElements: result.textElements,
      bitsPerWeight: (result.textBytes * 8) / result.textElements,
      seconds,
      weightsPerSecond: result.quantizedWeights / seconds,
      calibration: calib ? { windows: calib.windows, tokens: calib.tokens, expertFallbacks } : undefined,
    };
  } finally {
    await checkpoint.close();
  }
}
