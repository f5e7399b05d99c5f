/**
 * `moeq awq`: HF Llama 4 checkpoint → AutoAWQ GEMM checkpoint (int4 qweight/qzeros/fp16 scales, per-expert names,
 * `quantization_config` {quant_method "awq", version "gemm"}), layer by layer. The Llama 4 scale groups:
 *   input_layernorm          → q, k, v                         (loss over the q/k/v outputs)
 *   v_proj                   → o_proj                          (only when their shapes match; skipped under GQA)
 *   post_attention_layernorm → router + shared expert gate/up + every routed expert's gate/up (MoE layers; the router
 *                              is rescaled and kept BF16, so routing is unchanged) or dense gate/up
 *   up_proj                  → down_proj                       (per routed expert, shared expert, dense FFN)
 * then the clip search on every quantized Linear except q and k, then group-wise round-to-nearest. `rtn` skips
 * both searches (the baseline). Layer inputs come from one BF16 forward pass over the calibration windows.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError, SafetensorsWriter, encodeFromFloat32, writeFileAtomic } from "@moeq/formats";
import {
  awqApplyClip,
  awqInputMean,
  awqQuantizeGroups,
  awqSearchClip,
  awqSearchScale,
  checkAwqShape,
  packAwqGemm,
  roundToF16,
  type AwqLinear,
  type AwqQuantOptions,
} from "@moeq/quant";
import { mapLlama4HfName } from "@moeq/runtime";
import { isMultimodalTensor, planLlama4Tensors, readLlama4Config } from "../arch/llama4.js";
import { openCheckpoint, type CheckpointTensor } from "../checkpoint-index.js";
import { readFiniteMatrix } from "../read-matrix.js";
import { copyHfSideFiles, checkOutputDir, writeOutputDir } from "../output-dir.js";
import { planQuantizedLinears, tapKey, type LinearMatrix } from "../linear-plan.js";
import { collectAwqActivations, type AwqActivations, type TapRows } from "./awq-activations.js";

export interface AwqConvertOptions {
  readonly bits?: number;
  readonly groupSize?: number;
  readonly zeroPoint?: boolean;
  /** Calibration text (not needed for `rtn`). */
  readonly data?: string;
  readonly ctx?: number;
  readonly maxWindows?: number;
  /** Round-to-nearest baseline: no scale or clip search, same layout. */
  readonly rtn?: boolean;
  readonly maxShardBytes?: number;
  readonly onLayer?: (i: number, n: number) => void;
}

export interface AwqGroupChoice {
  readonly layer: number;
  readonly group: string;
  readonly ratio: number;
}

export interface AwqSummary {
  readonly output: string;
  readonly files: string[];
  readonly method: "awq" | "rtn";
  readonly bits: number;
  readonly groupSize: number;
  readonly zeroPoint: boolean;
  readonly quantizedMatrices: number;
  readonly outputBytes: number;
  readonly textBytes: number;
  readonly textElements: number;
  readonly bitsPerWeight: number;
  readonly seconds: number;
  readonly groups: AwqGroupChoice[];
  /** Routed experts no calibration token reached: no up→down scale and no clip search for them. */
  readonly expertsWithoutTokens: string[];
  readonly calibration?: { readonly windows: number; readonly tokens: number };
}

type Item = LinearMatrix | { kind: "copy"; src: CheckpointTensor };

const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/** The scale-and-clip edits of one layer, on f32 weights keyed by runtime name (`tapKey`). */
class LayerWeights {
  constructor(
    readonly w: Map<string, { data: Float32Array; rows: number; cols: number }>,
    readonly layer: number,
  ) {}
  get(name: string, expert?: number) {
    return this.w.get(tapKey({ tensor: `blk.${this.layer}.${name}.weight`, expert }));
  }
  has(name: string, expert?: number): boolean {
    return this.get(name, expert) !== undefined;
  }
}

function scaleColumns(m: { data: Float32Array; rows: number; cols: number }, s: Float32Array, divide: boolean): void {
  for (let i = 0; i < m.data.length; i++) m.data[i] = Math.fround(divide ? m.data[i]! / s[i % m.cols]! : m.data[i]! * s[i % m.cols]!);
}
function scaleRows(m: { data: Float32Array; rows: number; cols: number }, s: Float32Array): void {
  for (let i = 0; i < m.data.length; i++) m.data[i] = Math.fround(m.data[i]! / s[Math.floor(i / m.cols)]!);
}
function divideRows(x: TapRows, s: Float32Array): TapRows {
  return { ...x, x: x.x.map((v, i) => Math.fround(v / s[i % x.cols]!)) };
}

/** AWQ on one layer's weights (in place); returns the inputs each quantized Linear saw (scaled), for the clip search. */
function awqLayer(lw: LayerWeights, act: AwqActivations, o: AwqQuantOptions, nExperts: number, choices: AwqGroupChoice[], noTokens: string[]): Map<string, TapRows> {
  const L = lw.layer;
  const inputs = new Map<string, TapRows>();
  const lin = (name: string, x: TapRows, expert?: number): AwqLinear => {
    const m = lw.get(name, expert)!;
    return { w: m.data, rows: m.rows, x: x.x, nTokens: x.nTokens };
  };
  const tap = (name: string, expert?: number) => act.get(`blk.${L}.${name}.weight`, expert);
  const search = (group: string, linears: AwqLinear[], x: TapRows) => {
    const r = awqSearchScale(linears, awqInputMean(x.x, x.nTokens, x.cols), o);
    choices.push({ layer: L, group, ratio: r.ratio });
    return r.scales;
  };
  // input_layernorm → q, k, v
  let xa = tap("attn_q")!;
  const sa = search("input_layernorm→q,k,v", ["attn_q", "attn_k", "attn_v"].map((n) => lin(n, xa)), xa);
  lw.get("attn_norm")!.data.forEach((v, i, a) => (a[i] = Math.fround(v / sa[i]!)));
  for (const n of ["attn_q", "attn_k", "attn_v"]) scaleColumns(lw.get(n)!, sa, false);
  xa = divideRows(xa, sa);
  inputs.set("attn_v", xa);
  // v → o, only without grouped heads
  let xo = tap("attn_output")!;
  if (lw.get("attn_v")!.rows === lw.get("attn_output")!.cols) {
    const so = search("v→o", [lin("attn_output", xo)], xo);
    scaleRows(lw.get("attn_v")!, so);
    scaleColumns(lw.get("attn_output")!, so, false);
    xo = divideRows(xo, so);
  }
  inputs.set("attn_output", xo);
  // post_attention_layernorm → router + shared + routed gate/up, or dense gate/up
  const moe = lw.has("ffn_gate_inp");
  let xf = (moe ? tap("ffn_gate_inp") : tap("ffn_gate"))!;
  const pairs: { gate: string; up: string; down: string; expert?: number; label: string }[] = moe
    ? [{ gate: "ffn_gate_shexp", up: "ffn_up_shexp", down: "ffn_down_shexp", label: "shared" }, ...Array.from({ length: nExperts }, (_, e) => ({ gate: "ffn_gate_exps", up: "ffn_up_exps", down: "ffn_down_exps", expert: e, label: `expert ${e}` }))]
    : [{ gate: "ffn_gate", up: "ffn_up", down: "ffn_down", label: "dense" }];
  const gateInputs = new Map<(typeof pairs)[number], TapRows | undefined>();
  for (const p of pairs) gateInputs.set(p, p.expert === undefined ? xf : tap(p.gate, p.expert));
  const ffnLinears: AwqLinear[] = [];
  for (const p of pairs) {
    const x = gateInputs.get(p);
    if (x) ffnLinears.push(lin(p.gate, x, p.expert), lin(p.up, x, p.expert));
  }
  const sf = search(moe ? "post_attention_layernorm→router,shared,experts gate/up" : "post_attention_layernorm→gate,up", ffnLinears, xf);
  lw.get("ffn_norm")!.data.forEach((v, i, a) => (a[i] = Math.fround(v / sf[i]!)));
  if (moe) scaleColumns(lw.get("ffn_gate_inp")!, sf, false);
  xf = divideRows(xf, sf);
  for (const p of pairs) {
    scaleColumns(lw.get(p.gate, p.expert)!, sf, false);
    scaleColumns(lw.get(p.up, p.expert)!, sf, false);
    const x = gateInputs.get(p);
    if (x) inputs.set(tapKey({ tensor: p.gate, expert: p.expert }), p.expert === undefined ? xf : divideRows(x, sf));
    // up → down
    const xd = tap(p.down, p.expert);
    if (!xd) {
      noTokens.push(`layer ${L} ${p.label}`);
      continue;
    }
    const sd = search(`up→down (${p.label})`, [lin(p.down, xd, p.expert)], xd);
    scaleRows(lw.get(p.up, p.expert)!, sd);
    scaleColumns(lw.get(p.down, p.expert)!, sd, false);
    inputs.set(tapKey({ tensor: p.down, expert: p.expert }), divideRows(xd, sd));
  }
  // clip: every quantized linear except q and k
  const clip = (name: string, x: TapRows | undefined, expert?: number) => {
    if (!x) return;
    const m = lw.get(name, expert)!;
    awqApplyClip(m.data, m.rows, m.cols, awqSearchClip({ w: m.data, rows: m.rows, x: x.x, nTokens: x.nTokens }, m.cols, o), o.groupSize);
  };
  clip("attn_v", inputs.get("attn_v"));
  clip("attn_output", inputs.get("attn_output"));
  for (const p of pairs) {
    const xg = inputs.get(tapKey({ tensor: p.gate, expert: p.expert }));
    clip(p.gate, xg, p.expert);
    clip(p.up, xg, p.expert);
    clip(p.down, inputs.get(tapKey({ tensor: p.down, expert: p.expert })), p.expert);
  }
  return inputs;
}

function layerOf(it: Item): number {
  if (it.kind === "quantize") return Number(/^blk\.(\d+)\./.exec(it.planned.name)![1]);
  if (isMultimodalTensor(it.src.name)) return Infinity;
  return mapLlama4HfName(it.src.name)?.layer ?? -1;
}

export async function convertToAwq(hfDir: string, output: string, opts: AwqConvertOptions): Promise<AwqSummary> {
  const t0 = performance.now();
  const q: AwqQuantOptions = { bits: opts.bits ?? 4, groupSize: opts.groupSize ?? 128, zeroPoint: opts.zeroPoint ?? true };
  if (q.bits !== 4) throw new InputError("AWQ_BITS", `the AutoAWQ GEMM layout packs 4-bit codes; --bits ${q.bits} is not supported`);
  if (!opts.rtn && !opts.data) throw new InputError("USAGE", "moeq awq needs calibration text (--data FILE)");
  checkOutputDir(output);
  const { checkpoint, tensors } = await openCheckpoint(hfDir);
  try {
    const cfg = readLlama4Config(hfDir);
    const text = planLlama4Tensors(cfg, tensors, hfDir);
    const plannedByName = new Map(text.map((t) => [t.name, t]));
    const items: Item[] = planQuantizedLinears(text, tensors.filter((t) => isMultimodalTensor(t.name)), false);
    for (const it of items) {
      if (it.kind !== "quantize") continue;
      try {
        checkAwqShape(it.rows, it.cols, q);
      } catch (err) {
        throw new InputError("AWQ_GROUP_MISMATCH", `${it.base}: ${(err as Error).message}`, { file: hfDir });
      }
      if (it.rows % 8 !== 0) throw new InputError("AWQ_GROUP_MISMATCH", `${it.base}: ${it.rows} outputs is not a multiple of 8 (AWQ GEMM packing)`, { file: hfDir });
    }
    const order = items.map((it, i) => ({ it, i, layer: layerOf(it) })).sort((a, b) => a.layer - b.layer || a.i - b.i);
    const act = opts.rtn ? undefined : await collectAwqActivations(hfDir, opts.data!, { ctx: opts.ctx, maxWindows: opts.maxWindows });
    const choices: AwqGroupChoice[] = [];
    const noTokens: string[] = [];
    const g = q.groupSize;
    const result = await writeOutputDir(output, async (tmp) => {
      const writer = new SafetensorsWriter(join(tmp, "model.safetensors"), { maxShardBytes: opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES });
      for (const { it } of order) {
        if (it.kind === "copy") writer.addTensor(it.src.name, it.src.dtype, [...it.src.shape]);
        else {
          writer.addTensor(`${it.base}.qweight`, "I32", [it.cols, it.rows / 8]);
          writer.addTensor(`${it.base}.qzeros`, "I32", [it.cols / g, it.rows / 8]);
          writer.addTensor(`${it.base}.scales`, "F16", [it.cols / g, it.rows]);
        }
      }
      let textBytes = 0;
      let textElements = 0;
      let quantized = 0;
      const layers = [...new Set(order.map((o) => o.layer))];
      const nLayers = layers.filter((l) => l >= 0 && l !== Infinity).length;
      try {
        for (const layer of layers) {
          const layerItems = order.filter((o) => o.layer === layer).map((o) => o.it);
          // f32 weights of a decoder layer (quantized linears, norms, router), edited by AWQ before writing
          const lw = new LayerWeights(new Map(), layer);
          if (layer >= 0 && layer !== Infinity) {
            for (const it of layerItems) {
              if (it.kind === "quantize") lw.w.set(tapKey(it.tap), { data: await readFiniteMatrix(checkpoint, it.planned, it.expert, it.rows, it.cols), rows: it.rows, cols: it.cols });
              else {
                const gguf = mapLlama4HfName(it.src.name)!.gguf[0]!;
                const t = plannedByName.get(gguf)!;
                const rows = t.ne[1] ?? 1;
                lw.w.set(gguf, { data: await readFiniteMatrix(checkpoint, t, 0, rows, t.ne[0]!), rows, cols: t.ne[0]! });
              }
            }
            if (act) awqLayer(lw, act, q, cfg.nExpert, choices, noTokens);
          }
          for (const it of layerItems) {
            if (it.kind === "copy") {
              const edited = lw.w.get(mapLlama4HfName(it.src.name)?.gguf[0] ?? "");
              const bytes = edited ? encodeFromFloat32(edited.data, it.src.dtype) : await checkpoint.readBytes(it.src.name);
              await writer.writeTensorData(it.src.name, bytes);
              if (layer !== Infinity) {
                textBytes += bytes.byteLength;
                textElements += it.src.shape.reduce((a, b) => a * b, 1);
              }
              continue;
            }
            const m = lw.w.get(tapKey(it.tap))!;
            const groups = awqQuantizeGroups(m.data, it.rows, it.cols, q, roundToF16);
            const packed = packAwqGemm(groups.codes, groups.zeros, groups.scales, it.rows, it.cols, g);
            await writer.writeTensorData(`${it.base}.qweight`, new Uint8Array(packed.qweight.buffer));
            await writer.writeTensorData(`${it.base}.qzeros`, new Uint8Array(packed.qzeros.buffer));
            await writer.writeTensorData(`${it.base}.scales`, new Uint8Array(packed.scales.buffer));
            textBytes += packed.qweight.byteLength + packed.qzeros.byteLength + packed.scales.byteLength;
            textElements += it.rows * it.cols;
            quantized++;
          }
          if (layer >= 0 && layer !== Infinity) opts.onLayer?.(layer, nLayers);
        }
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const written = await writer.finish();
      const raw = JSON.parse(readFileSync(join(hfDir, "config.json"), "utf8")) as Record<string, unknown>;
      const quantization = {
        quant_method: "awq",
        bits: q.bits,
        group_size: g,
        zero_point: q.zeroPoint,
        version: "gemm",
        modules_to_not_convert: ["feed_forward.router", "lm_head", "vision_model", "multi_modal_projector"],
      };
      await writeFileAtomic(join(tmp, "config.json"), JSON.stringify({ ...raw, quantization_config: quantization }, null, 2) + "\n");
      await writeFileAtomic(join(tmp, "quant_config.json"), JSON.stringify({ zero_point: q.zeroPoint, q_group_size: g, w_bit: q.bits, version: "GEMM" }, null, 2) + "\n");
      await copyHfSideFiles(hfDir, tmp);
      return { written, textBytes, textElements, quantized };
    });
    return {
      output,
      files: result.written.files.map((f) => join(output, f.slice(f.lastIndexOf("/") + 1))),
      method: opts.rtn ? "rtn" : "awq",
      bits: q.bits,
      groupSize: g,
      zeroPoint: q.zeroPoint,
      quantizedMatrices: result.quantized,
      outputBytes: result.written.totalBytes,
      textBytes: result.textBytes,
      textElements: result.textElements,
      bitsPerWeight: (result.textBytes * 8) / result.textElements,
      seconds: (performance.now() - t0) / 1000,
      groups: choices,
      expertsWithoutTokens: noTokens,
      calibration: act ? { windows: act.windows, tokens: act.tokens } : undefined,
    };
  } finally {
    await checkpoint.close();
  }
}
