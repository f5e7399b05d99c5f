/**
 * The files of a GPTQ v1 output folder: per-layer shards (tensors sorted by name, each shard written atomically by
 * @moeq/formats' SafetensorsWriter), the four tensors of a quantized Linear, and the finishing touches: the index,
 * quantize_config.json, config.json with `quantization_config`, and the tokenizer / processor / template files.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsWriter, openSafetensors, writeFileAtomicSync } from "@moeq/formats";
import type { SafetensorsDType } from "@moeq/formats";
import type { GptqV1Tensors } from "@moeq/quant";

export function shardName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
}

export interface PendingTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: number[];
  readonly bytes: () => Promise<Uint8Array>;
}

export async function writeShard(path: string, tensors: PendingTensor[]): Promise<number> {
  const w = new SafetensorsWriter(path);
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const t of sorted) w.addTensor(t.name, t.dtype, t.shape);
  try {
    for (const t of sorted) await w.writeTensorData(t.name, await t.bytes());
  } catch (err) {
    await w.abort();
    throw err;
  }
  return (await w.finish()).totalBytes;
}

export function gptqTensors(module: string, p: GptqV1Tensors, rows: number, cols: number, bits: number): PendingTensor[] {
  const groups = p.scales.length / rows;
  const u8 = (a: Int32Array | Uint16Array) => async () => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return [
    { name: `${module}.qweight`, dtype: "I32", shape: [(cols / 32) * bits, rows], bytes: u8(p.qweight) },
    { name: `${module}.qzeros`, dtype: "I32", shape: [groups, (rows / 32) * bits], bytes: u8(p.qzeros) },
    { name: `${module}.scales`, dtype: "F16", shape: [groups, rows], bytes: u8(p.scales) },
    { name: `${module}.g_idx`, dtype: "I32", shape: [cols], bytes: u8(p.gIdx) },
  ];
}

/** The tensors of one weight file of the folder, in header order. */
export interface GptqWeightFile {
  readonly file: string;
  readonly tensors: readonly { readonly name: string; readonly byteLength: number }[];
}

/** The folder's other files (index, configs, copied tokenizer / processor / template files) and the tensor bytes. */
export function gptqFolderFiles(
  weightFiles: readonly GptqWeightFile[],
  sourceDir: string,
  configJson: Record<string, unknown>,
  quantizationConfig: Record<string, unknown>,
): { files: { name: string; bytes: Buffer }[]; totalBytes: number } {
  const weightMap: Record<string, string> = {};
  let totalBytes = 0;
  for (const w of weightFiles) {
    for (const t of w.tensors) {
      weightMap[t.name] = w.file;
      totalBytes += t.byteLength;
    }
  }
  const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2) + "\n", "utf8");
  const files = [
    { name: "model.safetensors.index.json", bytes: json({ metadata: { total_size: totalBytes }, weight_map: weightMap }) },
    { name: "quantize_config.json", bytes: json(quantizationConfig) },
    { name: "config.json", bytes: json({ ...configJson, quantization_config: quantizationConfig }) },
  ];
  for (const f of readdirSync(sourceDir)) {
    const p = join(sourceDir, f);
    if (f === "config.json" || f.endsWith(".safetensors") || f === "model.safetensors.index.json" || !statSync(p).isFile()) continue;
    files.push({ name: f, bytes: readFileSync(p) });
  }
  return { files, totalBytes };
}

/** Writes the index, the configs and the copied side files into `folder`; returns the tensor bytes. */
export async function finishGptqFolder(
  folder: string,
  nShards: number,
  sourceDir: string,
  configJson: Record<string, unknown>,
  quantizationConfig: Record<string, unknown>,
): Promise<number> {
  const weightFiles: GptqWeightFile[] = [];
  for (let i = 0; i < nShards; i++) {
    const shard = await openSafetensors(join(folder, shardName(i, nShards)));
    weightFiles.push({ file: shardName(i, nShards), tensors: [...shard.tensors].map(([name, t]) => ({ name, byteLength: t.byteLength })) });
    await shard.close();
  }
  const { files, totalBytes } = gptqFolderFiles(weightFiles, sourceDir, configJson, quantizationConfig);
  for (const f of files) writeFileAtomicSync(join(folder, f.name), f.bytes);
  return totalBytes;
}
