/**
 * `moeq fp8`: HF Llama 4 checkpoint → FP8 E4M3 compressed-tensors checkpoint (format "float-quantized") that
 * vLLM and Transformers load, streaming one matrix (one Linear, or one expert of a stacked expert tensor) at a
 * time. Output: sharded safetensors + index, config.json with `quantization_config`, the tokenizer / processor /
 * chat-template files, all written in a temp folder that is renamed into place when complete.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError, SafetensorsWriter, encodeFromFloat32, writeFileAtomic, type SafetensorsCheckpoint } from "@moeq/formats";
import { FP8_BLOCK_SIZE, encodeFp8, fp8ScaleFromAbsMax, fp8Scales, type Fp8Scheme } from "@moeq/quant";
import { isMultimodalTensor, planLlama4Tensors, readLlama4Config } from "../arch/llama4.js";
import { openCheckpoint, type CheckpointTensor } from "../checkpoint-index.js";
import { readFiniteMatrix } from "../read-matrix.js";
import { copyHfSideFiles, checkOutputDir, writeOutputDir } from "../output-dir.js";
import { compressedTensorsFp8Config, type Fp8Activations } from "./compressed-tensors-config.js";
import { planQuantizedLinears, type LinearMatrix, type LinearPlanItem } from "../linear-plan.js";
import { fp8OutputTensors } from "./fp8-outputs.js";
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

async function copyTensor(reader: SafetensorsCheckpoint, writer: SafetensorsWriter, src: CheckpointTensor): Promise<void> {
  for (let start = 0; start < src.byteLength; start += COPY_CHUNK_BYTES) {
    const end = Math.min(src.byteLength, start + COPY_CHUNK_BYTES);
    await writer.writeTensorData(src.name, await reader.readBytes(src.name, { start, end }));
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
    const result = await writeOutputDir(output, async (tmp) => {
      const writer = new SafetensorsWriter(join(tmp, "model.safetensors"), { maxShardBytes: opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES });
      for (const it of items) for (const o of fp8OutputTensors(it, opts.scheme, calib !== undefined)) writer.addTensor(o.name, o.dtype, o.shape);
      let quantizedWeights = 0;
      let textBytes = 0;
      let textElements = 0;
      try {
        for (let i = 0; i < items.length; i++) {
          const it: LinearPlanItem = items[i]!;
          if (it.kind === "copy") {
            await copyTensor(checkpoint, writer, it.src);
            if (!isMultimodalTensor(it.src.name)) {
              textBytes += it.src.byteLength;
              textElements += it.src.shape.reduce((a, b) => a * b, 1);
            }
            opts.onTensor?.(i, items.length, it.src.name);
            continue;
          }
          const w = await readFiniteMatrix(checkpoint, it.planned, it.expert, it.rows, it.cols);
          const scales = fp8Scales(w, it.rows, it.cols, opts.scheme);
          const codes = encodeFp8(w, it.rows, it.cols, opts.scheme, scales);
          await writer.writeTensorData(`${it.base}.weight`, codes);
          await writer.writeTensorData(`${it.base}.weight_scale`, encodeFromFloat32(scales, "F32"));
          textBytes += codes.byteLength + scales.byteLength;
          const a = inputAbsMax.get(it);
          if (a !== undefined) {
            await writer.writeTensorData(`${it.base}.input_scale`, encodeFromFloat32(Float32Array.of(fp8ScaleFromAbsMax(a)), "F32"));
            textBytes += 4;
          }
          quantizedWeights += w.length;
          textElements += w.length;
          opts.onTensor?.(i, items.length, it.base);
        }
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const written = await writer.finish();
      await writeFileAtomic(join(tmp, "config.json"), configWithQuantization(hfDir, compressedTensorsFp8Config(opts.scheme, activations, expertsOnly)));
      await copyHfSideFiles(hfDir, tmp);
      return { written, quantizedWeights, textBytes, textElements };
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      output,
      files: result.written.files.map((f) => join(output, f.slice(f.lastIndexOf("/") + 1))),
      scheme: opts.scheme,
      activations,
      expertsOnly,
      quantizedMatrices: items.filter((i) => i.kind === "quantize").length,
      quantizedWeights: result.quantizedWeights,
      outputBytes: result.written.totalBytes,
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
