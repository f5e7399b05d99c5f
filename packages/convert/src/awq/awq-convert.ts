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
 * Memory: a layer's attention, norms, router and shared expert are held in f32; routed experts are streamed one
 * Linear at a time (awq-experts.ts) and dropped once written, so peak memory is those shared parts, one expert,
 * and the calibration activations.
 * Resume: each layer is written to `<output>.partial/` as it is done (awq-partial.ts); a rerun with the same
 * arguments after a kill (SIGKILL included) redoes only the layers not there, then assembles the same bytes.
 * The folder appears under `output` only when complete.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError, SafetensorsWriter, encodeFromFloat32, openSafetensors, writeFileAtomic, type SafetensorsCheckpoint } from "@moeq/formats";
import {
  awqInputMean,
  awqQuantizeGroups,
  awqSearchScale,
  AwqScaleSearchStream,
  checkAwqShape,
  packAwqGemm,
  roundToF16,
  type AwqLinear,
  type AwqQuantOptions,
} from "@moeq/quant";
import { mapLlama4HfName, type ExpertProj } from "@moeq/runtime";
import { isMultimodalTensor, planLlama4Tensors, readLlama4Config, type Llama4Config, type PlannedTensor } from "../arch/llama4.js";
import { openCheckpoint, type CheckpointTensor } from "../checkpoint-index.js";
import { readFiniteMatrix } from "../read-matrix.js";
import { HF_SIDE_FILES, copyHfSideFiles, checkOutputDir, writeOutputDir } from "../output-dir.js";
import { FolderShardWriter, type DeclaredTensor } from "../shard/folder-shard.js";
import { shardFilePath } from "../shard/shard-file.js";
import { unitsOfShard, type ShardSpec } from "../shard/shard-spec.js";
import { planQuantizedLinears, tapKey, type LinearMatrix } from "../linear-plan.js";
import { collectAwqActivations, type AwqActivations, type TapRows } from "./awq-activations.js";
import { RoutedExperts } from "./awq-experts.js";
import { AwqPartial } from "./awq-partial.js";
import { clipLinear, divideRows, scaleColumns, scaleRows, type Matrix } from "./awq-edits.js";

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
  /**
   * Do only this shard's layers (unit: a decoder layer, the tensors outside the decoder, the vision tower; dealt
   * longest-first by elements to quantize plus copied bytes) and write `<output>.shard-i-of-N` for `moeq merge`.
   * Layers are independent here (every layer's inputs come from one BF16 pass), so shards need not talk.
   */
  readonly shard?: ShardSpec;
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
  /** The shard file written, with `shard` (the counts then cover this shard's layers). */
  readonly shardFile?: string;
}

type Item = LinearMatrix | { kind: "copy"; src: CheckpointTensor };

const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/** The scale-and-clip edits of one layer, on f32 weights keyed by runtime name (`tapKey`); routed experts are not here. */
class LayerWeights {
  constructor(
    readonly w: Map<string, Matrix>,
    readonly layer: number,
  ) {}
  get(name: string, expert?: number) {
    return this.w.get(tapKey({ tensor: `blk.${this.layer}.${name}.weight`, expert }));
  }
  has(name: string, expert?: number): boolean {
    return this.get(name, expert) !== undefined;
  }
}

/**
 * AWQ on one layer's non-expert weights (in place) and the post-attention-norm scale search over the routed experts
 * (streamed, two passes); `experts` then finishes each routed expert when it is written.
 */
async function awqLayer(
  lw: LayerWeights,
  act: AwqActivations,
  o: AwqQuantOptions,
  experts: RoutedExperts | undefined,
  choices: AwqGroupChoice[],
  noTokens: string[],
): Promise<void> {
  const L = lw.layer;
  const inputs = new Map<string, TapRows>();
  const lin = (name: string, x: TapRows): AwqLinear => {
    const m = lw.get(name)!;
    return { w: m.data, rows: m.rows, x: x.x, nTokens: x.nTokens };
  };
  const tap = (name: string) => act.get(`blk.${L}.${name}.weight`);
  const search = (group: string, linears: AwqLinear[], x: TapRows) => {
    const r = awqSearchScale(linears, awqInputMean(x.x, x.nTokens, x.cols), o);
    choices.push({ layer: L, group, ratio: r.ratio });
    return r.scales;
  };
  // input_layernorm → q, k, v
  let xa = tap("attn_q")!;
  const sa = search(
    "input_layernorm→q,k,v",
    ["attn_q", "attn_k", "attn_v"].map((n) => lin(n, xa)),
    xa,
  );
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
  const p = moe
    ? { gate: "ffn_gate_shexp", up: "ffn_up_shexp", down: "ffn_down_shexp", label: "shared" }
    : { gate: "ffn_gate", up: "ffn_up", down: "ffn_down", label: "dense" };
  // One search over the shared (or dense) gate/up and every routed expert's gate/up that saw tokens, experts streamed.
  const ffn = new AwqScaleSearchStream(awqInputMean(xf.x, xf.nTokens, xf.cols), o);
  const shared = [lin(p.gate, xf), lin(p.up, xf)];
  for (const add of [(l: AwqLinear) => ffn.addWeights(l), (l: AwqLinear) => ffn.addLosses(l)]) {
    shared.forEach(add);
    if (experts) await experts.eachGateUp(add);
  }
  const found = ffn.result();
  choices.push({ layer: L, group: moe ? "post_attention_layernorm→router,shared,experts gate/up" : "post_attention_layernorm→gate,up", ratio: found.ratio });
  const sf = found.scales;
  experts?.setGateUpScales(sf);
  lw.get("ffn_norm")!.data.forEach((v, i, a) => (a[i] = Math.fround(v / sf[i]!)));
  if (moe) scaleColumns(lw.get("ffn_gate_inp")!, sf, false);
  xf = divideRows(xf, sf);
  scaleColumns(lw.get(p.gate)!, sf, false);
  scaleColumns(lw.get(p.up)!, sf, false);
  inputs.set(p.gate, xf);
  // up → down
  const xd = tap(p.down);
  if (!xd) noTokens.push(`layer ${L} ${p.label}`);
  else {
    const sd = search(`up→down (${p.label})`, [lin(p.down, xd)], xd);
    scaleRows(lw.get(p.up)!, sd);
    scaleColumns(lw.get(p.down)!, sd, false);
    inputs.set(p.down, divideRows(xd, sd));
  }
  // clip: every quantized linear except q and k (routed experts: when each is written)
  clipLinear(lw.get("attn_v")!, inputs.get("attn_v"), o);
  clipLinear(lw.get("attn_output")!, inputs.get("attn_output"), o);
  clipLinear(lw.get(p.gate)!, inputs.get(p.gate), o);
  clipLinear(lw.get(p.up)!, inputs.get(p.gate), o);
  clipLinear(lw.get(p.down)!, inputs.get(p.down), o);
  // the routed experts' up→down choices, in expert order, after the shared expert's
  if (experts) await experts.searchDownScales(choices, noTokens);
}

function expertProjOf(tensor: string): ExpertProj {
  return /\.ffn_(gate|up|down)_exps\.weight$/.exec(tensor)![1] as ExpertProj;
}

function layerOf(it: Item): number {
  if (it.kind === "quantize") return Number(/^blk\.(\d+)\./.exec(it.planned.name)![1]);
  if (isMultimodalTensor(it.src.name)) return Infinity;
  return mapLlama4HfName(it.src.name)?.layer ?? -1;
}

interface LayerContext {
  readonly checkpoint: SafetensorsCheckpoint;
  readonly cfg: Llama4Config;
  readonly plannedByName: Map<string, PlannedTensor>;
  readonly act: AwqActivations | undefined;
  readonly q: AwqQuantOptions;
  readonly choices: AwqGroupChoice[];
  readonly noTokens: string[];
}

/** AWQ on one layer (-1: outside the decoder, Infinity: vision), its tensors written to `writer` in order. */
async function awqWriteLayer(
  layer: number,
  layerItems: Item[],
  writer: SafetensorsWriter,
  c: LayerContext,
): Promise<{ textBytes: number; textElements: number; quantized: number }> {
  const { checkpoint, plannedByName, act, q } = c;
  const g = q.groupSize;
  let textBytes = 0;
  let textElements = 0;
  let quantized = 0;
  // f32 weights of a decoder layer (quantized linears, norms, router), edited by AWQ before writing
  const lw = new LayerWeights(new Map(), layer);
  let experts: RoutedExperts | undefined;
  if (layer >= 0 && layer !== Infinity) {
    if (plannedByName.has(`blk.${layer}.ffn_gate_exps.weight`)) {
      const load = async (proj: ExpertProj, e: number): Promise<Matrix> => {
        const t = plannedByName.get(`blk.${layer}.ffn_${proj}_exps.weight`)!;
        const [cols, rows] = t.ne as [number, number];
        return { data: await readFiniteMatrix(checkpoint, t, e, rows, cols), rows, cols };
      };
      experts = new RoutedExperts(layer, c.cfg.nExpert, load, act, q);
    }
    for (const it of layerItems) {
      if (it.kind === "quantize" && it.tap.expert !== undefined) continue; // streamed by `experts`
      if (it.kind === "quantize")
        lw.w.set(tapKey(it.tap), { data: await readFiniteMatrix(checkpoint, it.planned, it.expert, it.rows, it.cols), rows: it.rows, cols: it.cols });
      else {
        const gguf = mapLlama4HfName(it.src.name)!.gguf[0]!;
        const t = plannedByName.get(gguf)!;
        const rows = t.ne[1] ?? 1;
        lw.w.set(gguf, { data: await readFiniteMatrix(checkpoint, t, 0, rows, t.ne[0]!), rows, cols: t.ne[0]! });
      }
    }
    if (act) await awqLayer(lw, act, q, experts, c.choices, c.noTokens);
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
    const m = it.tap.expert === undefined ? lw.w.get(tapKey(it.tap))! : await experts!.finalWeights(expertProjOf(it.tap.tensor), it.tap.expert);
    const groups = awqQuantizeGroups(m.data, it.rows, it.cols, q, roundToF16);
    const packed = packAwqGemm(groups.codes, groups.zeros, groups.scales, it.rows, it.cols, g);
    await writer.writeTensorData(`${it.base}.qweight`, new Uint8Array(packed.qweight.buffer));
    await writer.writeTensorData(`${it.base}.qzeros`, new Uint8Array(packed.qzeros.buffer));
    await writer.writeTensorData(`${it.base}.scales`, new Uint8Array(packed.scales.buffer));
    textBytes += packed.qweight.byteLength + packed.qzeros.byteLength + packed.scales.byteLength;
    textElements += it.rows * it.cols;
    quantized++;
  }
  return { textBytes, textElements, quantized };
}

/** config.json (with `quantization_config`) and quant_config.json, as the output folder holds them. */
function awqConfigFiles(hfDir: string, q: AwqQuantOptions): { name: string; text: string }[] {
  const raw = JSON.parse(readFileSync(join(hfDir, "config.json"), "utf8")) as Record<string, unknown>;
  const quantization = {
    quant_method: "awq",
    bits: q.bits,
    group_size: q.groupSize,
    zero_point: q.zeroPoint,
    version: "gemm",
    modules_to_not_convert: ["feed_forward.router", "lm_head", "vision_model", "multi_modal_projector"],
  };
  return [
    { name: "config.json", text: JSON.stringify({ ...raw, quantization_config: quantization }, null, 2) + "\n" },
    { name: "quant_config.json", text: JSON.stringify({ zero_point: q.zeroPoint, q_group_size: q.groupSize, w_bit: q.bits, version: "GEMM" }, null, 2) + "\n" },
  ];
}

export async function convertToAwq(hfDir: string, output: string, opts: AwqConvertOptions): Promise<AwqSummary> {
  const t0 = performance.now();
  const q: AwqQuantOptions = { bits: opts.bits ?? 4, groupSize: opts.groupSize ?? 128, zeroPoint: opts.zeroPoint ?? true };
  if (q.bits !== 4) throw new InputError("AWQ_BITS", `the AutoAWQ GEMM layout packs 4-bit codes; --bits ${q.bits} is not supported`);
  if (!opts.rtn && !opts.data) throw new InputError("USAGE", "moeq awq needs calibration text (--data FILE)");
  checkOutputDir(output);
  const shard = opts.shard;
  const { checkpoint, tensors } = await openCheckpoint(hfDir);
  try {
    const cfg = readLlama4Config(hfDir);
    const text = planLlama4Tensors(cfg, tensors, hfDir);
    const plannedByName = new Map(text.map((t) => [t.name, t]));
    const items: Item[] = planQuantizedLinears(
      text,
      tensors.filter((t) => isMultimodalTensor(t.name)),
      false,
    );
    for (const it of items) {
      if (it.kind !== "quantize") continue;
      try {
        checkAwqShape(it.rows, it.cols, q);
      } catch (err) {
        throw new InputError("AWQ_GROUP_MISMATCH", `${it.base}: ${(err as Error).message}`, { file: hfDir });
      }
      if (it.rows % 8 !== 0)
        throw new InputError("AWQ_GROUP_MISMATCH", `${it.base}: ${it.rows} outputs is not a multiple of 8 (AWQ GEMM packing)`, { file: hfDir });
    }
    const order = items.map((it, i) => ({ it, i, layer: layerOf(it) })).sort((a, b) => a.layer - b.layer || a.i - b.i);
    const choices: AwqGroupChoice[] = [];
    const noTokens: string[] = [];
    const g = q.groupSize;
    const declare = (w: Pick<SafetensorsWriter, "addTensor">, it: Item) => {
      if (it.kind === "copy") w.addTensor(it.src.name, it.src.dtype, [...it.src.shape]);
      else {
        w.addTensor(`${it.base}.qweight`, "I32", [it.cols, it.rows / 8]);
        w.addTensor(`${it.base}.qzeros`, "I32", [it.cols / g, it.rows / 8]);
        w.addTensor(`${it.base}.scales`, "F16", [it.cols / g, it.rows]);
      }
    };
    const tensorNames = (it: Item) => (it.kind === "copy" ? [it.src.name] : ["qweight", "qzeros", "scales"].map((p) => `${it.base}.${p}`));
    const layers = [...new Set(order.map((o) => o.layer))];
    const nLayers = layers.filter((l) => l >= 0 && l !== Infinity).length;
    // elements to quantize (the searches scale with them) plus copied bytes, per layer
    const cost = (layer: number) =>
      order.filter((o) => o.layer === layer).reduce((n, { it }) => n + (it.kind === "quantize" ? it.rows * it.cols : it.src.byteLength / 16), 0);
    const mine = new Set(shard ? unitsOfShard(layers.map(cost), shard).map((k) => layers[k]) : layers);
    const partial = new AwqPartial(shard ? shardFilePath(output, shard) : output, {
      hfDir: resolve(hfDir),
      data: opts.data && resolve(opts.data),
      dataBytes: opts.data && existsSync(opts.data) ? statSync(opts.data).size : null,
      q,
      ctx: opts.ctx ?? null,
      maxWindows: opts.maxWindows ?? null,
      rtn: opts.rtn ?? false,
    });
    let act: AwqActivations | undefined;
    let calibration: AwqSummary["calibration"];
    const totals = { textBytes: 0, textElements: 0, quantized: 0 };
    try {
      for (const layer of layers) {
        if (!mine.has(layer)) continue;
        const layerItems = order.filter((o) => o.layer === layer).map((o) => o.it);
        const decoder = layer >= 0 && layer !== Infinity;
        let done = partial.done(layer);
        if (!done) {
          // one BF16 forward pass over the calibration windows, only when a decoder layer is left to do
          if (decoder && !opts.rtn && !act) act = await collectAwqActivations(hfDir, opts.data!, { ctx: opts.ctx, maxWindows: opts.maxWindows });
          const writer = new SafetensorsWriter(partial.tensorsPath(layer));
          for (const it of layerItems) declare(writer, it);
          const c0 = choices.length;
          const n0 = noTokens.length;
          try {
            const t = await awqWriteLayer(layer, layerItems, writer, { checkpoint, cfg, plannedByName, act, q, choices, noTokens });
            await writer.finish();
            const calibration = act && decoder ? { windows: act.windows, tokens: act.tokens } : undefined;
            done = { ...t, choices: choices.splice(c0), noTokens: noTokens.splice(n0), calibration };
          } catch (err) {
            await writer.abort();
            throw err;
          }
          partial.markDone(layer, done);
        }
        choices.push(...done.choices);
        noTokens.push(...done.noTokens);
        totals.textBytes += done.textBytes;
        totals.textElements += done.textElements;
        totals.quantized += done.quantized;
        calibration ??= done.calibration;
        if (decoder) opts.onLayer?.(layer, nLayers);
      }
    } catch (err) {
      if (err instanceof InputError) partial.remove(); // bad input leaves nothing behind; anything else is resumed
      throw err;
    }
    const runSummary = (files: string[], outputBytes: number, t: typeof totals, shardFile?: string): AwqSummary => ({
      output,
      files,
      method: opts.rtn ? "rtn" : "awq",
      bits: q.bits,
      groupSize: g,
      zeroPoint: q.zeroPoint,
      quantizedMatrices: t.quantized,
      outputBytes,
      textBytes: t.textBytes,
      textElements: t.textElements,
      bitsPerWeight: t.textElements > 0 ? (t.textBytes * 8) / t.textElements : 0,
      seconds: (performance.now() - t0) / 1000,
      groups: choices,
      expertsWithoutTokens: noTokens,
      calibration,
      shardFile,
    });
    if (shard) {
      const declared: DeclaredTensor[] = [];
      for (const { it } of order) declare({ addTensor: (name, dtype, shape) => void declared.push({ name, dtype, shape }) }, it);
      const sideFiles = HF_SIDE_FILES.filter((f) => existsSync(join(hfDir, f)));
      const configs = awqConfigFiles(hfDir, q);
      const layout = {
        writers: [{ path: "model.safetensors", maxShardBytes: opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, tensors: declared }],
        files: [...configs.map((c) => c.name), ...sideFiles],
      };
      const fingerprint = createHash("sha256")
        .update(JSON.stringify({ command: "awq", config: readFileSync(join(hfDir, "config.json"), "utf8"), q, layout: layout.writers, rtn: opts.rtn ?? false }))
        .update(
          JSON.stringify({
            dataBytes: opts.data && existsSync(opts.data) ? statSync(opts.data).size : null,
            ctx: opts.ctx ?? null,
            maxWindows: opts.maxWindows ?? null,
          }),
        )
        .digest("hex");
      const w = await FolderShardWriter.open(output, shard, fingerprint, layout);
      try {
        for (const layer of layers) {
          if (!mine.has(layer)) continue;
          const st = await openSafetensors(partial.tensorsPath(layer));
          try {
            for (const { it } of order.filter((o) => o.layer === layer)) for (const name of tensorNames(it)) await w.addTensor(name, await st.readBytes(name));
          } finally {
            await st.close();
          }
        }
        if (shard.index === 1) {
          for (const c of configs) await w.addFile(c.name, Buffer.from(c.text, "utf8"));
          for (const f of sideFiles) await w.addFile(f, readFileSync(join(hfDir, f)));
        }
        await w.finish();
      } catch (err) {
        await w.abort();
        throw err;
      }
      partial.remove();
      return runSummary([w.path], statSync(w.path).size, totals, w.path);
    }
    const result = await writeOutputDir(output, async (tmp) => {
      const writer = new SafetensorsWriter(join(tmp, "model.safetensors"), { maxShardBytes: opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES });
      for (const { it } of order) declare(writer, it);
      try {
        for (const layer of layers) {
          const st = await openSafetensors(partial.tensorsPath(layer));
          try {
            for (const { it } of order.filter((o) => o.layer === layer))
              for (const name of tensorNames(it)) await writer.writeTensorData(name, await st.readBytes(name));
          } finally {
            await st.close();
          }
        }
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const written = await writer.finish();
      for (const c of awqConfigFiles(hfDir, q)) await writeFileAtomic(join(tmp, c.name), c.text);
      await copyHfSideFiles(hfDir, tmp);
      return { written, ...totals };
    });
    partial.remove();
    return runSummary(
      result.written.files.map((f) => join(output, f.slice(f.lastIndexOf("/") + 1))),
      result.written.totalBytes,
      result,
    );
  } finally {
    await checkpoint.close();
  }
}
