/**
 * `moeq gptq`: an HF Llama 4 checkpoint → a GPTQ v1 safetensors folder, calibrated layer by layer.
 *
 * Layer L's Hessians see the inputs the quantized model will give it (GPTQModel's order): the calibration samples'
 * hidden states are cached at layer L's input and advanced through each layer once it is quantized (read back
 * from its shard), so each layer runs twice per sample (layer-inputs.ts). Hessians come from the runtime's taps
 * (layer-hessians.ts): q/k/v share one, each gate/up pair shares one, a routed expert's come from its routed,
 * router-scaled tokens only. A routed expert with fewer than `minExpertTokens` tokens is quantized with
 * round-to-nearest on the same grid and listed in the report.
 *
 * Output: one shard per decoder layer plus one for everything outside the layers, written into `<out>.partial/`
 * (each shard atomically, progress recorded after each layer, so a killed run resumes at the next layer) and
 * renamed to `<out>` when complete.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { GGMLType, InputError, decodeToFloat32, encodeFromFloat32, openSafetensors, writeFileAtomicSync } from "@moeq/formats";
import type { SafetensorsDType } from "@moeq/formats";
import type { PendingTensor } from "./gptq-folder.js";
import { finishGptqFolder, gptqFolderFiles, gptqTensors, shardName, writeShard, type GptqWeightFile } from "./gptq-folder.js";
import { checkGptqShape } from "@moeq/quant";
import type { ActivationEvent, Llama4TextConfig, TensorSource } from "@moeq/runtime";
import { Llama4TextModel, Llama4Tokenizer, WeightStore, llama4ConfigFromHf, mapLlama4HfName, openSafetensorsTensors } from "@moeq/runtime";
import { calibrationSamples } from "./calibration.js";
import { checkCheckpointMatchesConfig } from "../checkpoint-check.js";
import { LayerHessians } from "./layer-hessians.js";
import { isExcluded, layerLinears } from "./linears.js";
import type { GptqSettings } from "./quantize-config.js";
import { gptqQuantizationConfig } from "./quantize-config.js";
import { LayerInputs } from "./layer-inputs.js";
import type { GptqLinearReport, SolveResult } from "./solve-linear.js";
import { SolvePool } from "./solve-pool.js";
import { GptqShardParts, type PartReport } from "./gptq-shard-parts.js";
import { FolderShardWriter, type DeclaredTensor, type FolderLayout } from "../shard/folder-shard.js";
import { assignUnitsToShards, type ShardSpec } from "../shard/shard-spec.js";

export type { GptqLinearReport } from "./solve-linear.js";

export interface GptqConvertOptions {
  readonly bits?: number;
  readonly groupSize?: number;
  readonly descAct?: boolean;
  readonly sym?: boolean;
  readonly staticGroups?: boolean;
  readonly damp?: number;
  readonly nsamples?: number;
  readonly seqlen?: number;
  /** Regular expressions on HF module names: those Linears stay BF16. */
  readonly exclude?: readonly string[];
  /** Routed experts below this many calibration tokens fall back to RTN (default 0.5 % of the tokens, GPTQModel's threshold). */
  readonly minExpertTokens?: number;
  /** Round-to-nearest on the same format for every Linear, no calibration (the baseline GPTQ is measured against). */
  readonly rtn?: boolean;
  /** Weight bytes the calibration model keeps resident (default 1 GiB). */
  readonly memoryBudgetBytes?: number;
  /** Worker threads solving independent Linears (default 1: inline); the output bytes do not depend on it. */
  readonly threads?: number;
  /**
   * Solve only this shard's Linears of every layer (LPT by solve cost within each layer), meeting the other shards
   * after each layer in `<output>.parts/` (gptq-shard-parts.ts), and write `<output>.shard-i-of-N` for `moeq merge`.
   */
  readonly shard?: ShardSpec;
  /** How long a shard waits for the others at a layer barrier (default 24 h). */
  readonly shardTimeoutMs?: number;
  /** Called after each layer's calibration and each quantized Linear. */
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

export interface GptqReport {
  readonly settings: GptqSettings & { readonly nsamples: number; readonly seqlen: number };
  readonly layers: { readonly layer: number; readonly linears: GptqLinearReport[] }[];
  /** Routed experts quantized with RTN for lack of tokens (or listed as BF16 by --exclude). */
  readonly fallbacks: { readonly module: string; readonly tokens: number; readonly method: "rtn" }[];
  /** HF tensors copied unconverted in their original dtype. */
  readonly notConverted: string[];
}

export interface GptqSummary {
  readonly output: string;
  readonly files: string[];
  readonly totalBytes: number;
  readonly resumedLayers: number;
  readonly report: GptqReport;
  /** Distinct threads that solved Linears (1 when inline). */
  readonly threadsUsed: number;
  /** The shard file written, with `shard`. */
  readonly shardFile?: string;
}

const UNFUSED_EXPERT_RE = /^(?:language_model\.)?model\.layers\.(\d+)\.feed_forward\.experts\.\d+\.(?:gate|up|down)_proj\.weight$/;

const DTYPE_OF: Partial<Record<GGMLType, SafetensorsDType>> = { [GGMLType.F32]: "F32", [GGMLType.F16]: "F16", [GGMLType.BF16]: "BF16" };

function f32Of(src: TensorSource, expert: number | undefined, label: string, file: string): Float32Array {
  const dtype = DTYPE_OF[src.type];
  if (!dtype) throw new InputError("GPTQ_SOURCE_DTYPE", `${label} is not F32/F16/BF16`, { file });
  const W = decodeToFloat32(src.readSlice(expert), dtype);
  for (let i = 0; i < W.length; i++)
    if (!Number.isFinite(W[i])) throw new InputError("NON_FINITE_WEIGHT", `${label} has a non-finite value (${W[i]}) at element ${i}`, { file });
  return W;
}

function isLlama4(cfg: Record<string, unknown>): boolean {
  const text = cfg.text_config as Record<string, unknown> | undefined;
  return cfg.model_type === "llama4" || cfg.model_type === "llama4_text" || text?.model_type === "llama4_text";
}

export async function gptqConvert(input: string, output: string, data: string | null, opts: GptqConvertOptions = {}): Promise<GptqSummary> {
  const dir = resolve(input);
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) throw new InputError("NO_CONFIG", "config.json not found", { file: configPath });
  let configJson: Record<string, unknown>;
  try {
    configJson = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new InputError("BAD_JSON", "cannot read JSON", { file: configPath, cause });
  }
  if (!isLlama4(configJson))
    throw new InputError("NOT_LLAMA4", `model_type is ${JSON.stringify(configJson.model_type)}, expected "llama4"`, { file: configPath });
  await checkCheckpointMatchesConfig(dir); // shapes vs config.json, before anything is written
  const cfg: Llama4TextConfig = llama4ConfigFromHf(configJson, configPath);
  const nsamples = opts.nsamples ?? 128;
  const seqlen = opts.seqlen ?? 512;
  if (!(Number.isInteger(nsamples) && nsamples > 0 && Number.isInteger(seqlen) && seqlen > 0))
    throw new InputError("BAD_ARG", `--nsamples and --seqlen must be positive integers (${nsamples}, ${seqlen})`);
  const exclude = opts.exclude ?? [];
  let excludeRe: RegExp[];
  try {
    excludeRe = exclude.map((p) => new RegExp(p));
  } catch (cause) {
    throw new InputError("BAD_ARG", `--exclude: ${(cause as Error).message}`);
  }
  const settings: GptqSettings = {
    bits: opts.bits ?? 4,
    groupSize: opts.groupSize ?? 128,
    descAct: opts.descAct ?? false,
    sym: opts.sym ?? false,
    staticGroups: opts.staticGroups ?? false,
    damp: opts.damp ?? 0.01,
    dampAutoIncrement: 0.01,
    minExpertTokens: opts.minExpertTokens ?? Math.ceil(0.005 * nsamples * seqlen),
    exclude,
  };
  if (!(settings.damp > 0 && settings.damp < 1)) throw new InputError("BAD_ARG", `--damp must be in (0, 1), got ${settings.damp}`);

  const out = resolve(output);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0))
    throw new InputError("OUTPUT_EXISTS", "output exists and is not an empty folder", { file: out });

  const tokenizer = Llama4Tokenizer.fromHfDir(dir);
  const rtnOnly = opts.rtn ?? false;
  if (!rtnOnly && data === null) throw new InputError("BAD_ARG", "GPTQ needs calibration text (--data)");
  const samples = rtnOnly || data === null ? [] : calibrationSamples(data, (t) => tokenizer.encode(t), nsamples, seqlen);
  const pool = await SolvePool.start(opts.threads ?? 1);
  const src = await openSafetensorsTensors(dir);
  const raw = await openSafetensors(dir);
  const opened: { close(): void }[] = [src];
  const partial = `${out}.partial`;
  let wroteSomething = false;
  try {
    const names = [...raw.tensors.keys()];
    const prefix = names.some((n) => n.startsWith("language_model.")) ? "language_model." : "";
    // Decoder-layer index of an HF tensor; unfused expert weights (`experts.{e}.{proj}.weight`) are not in the name table.
    const layerOf = (n: string): number | undefined => mapLlama4HfName(n)?.layer ?? UNFUSED_EXPERT_RE.exec(n)?.map(Number)[1];
    const layerTensors = (L: number) => names.filter((n) => layerOf(n) === L);
    const linears = Array.from({ length: cfg.numLayers }, (_, L) => layerLinears(cfg, L, prefix));

    // Every width must fit the format before anything is written.
    for (const { gguf, module } of linears.flat()) {
      if (isExcluded(module, excludeRe)) continue;
      const t = src.tensors.get(gguf);
      if (!t) throw new InputError("MISSING_TENSOR", `tensor for ${module} (${gguf}) is missing`, { file: dir });
      const problem = checkGptqShape(t.ne[1], t.ne[0], settings.bits, settings.groupSize);
      if (problem) throw new InputError("GPTQ_SHAPE", `${module}: ${problem}`, { file: dir });
    }

    const nShards = cfg.numLayers + 1;
    const key = JSON.stringify({ input: dir, data: data && resolve(data), dataBytes: data && statSync(data).size, settings, nsamples, seqlen, rtnOnly });
    const progressPath = join(partial, "gptq-progress.json");
    let done: { layer: number; report: GptqLinearReport[] }[] = [];
    const shard = opts.shard;
    const parts =
      shard &&
      new GptqShardParts(
        out,
        shard,
        JSON.stringify({ command: "gptq", config: configJson, dataBytes: data && statSync(data).size, settings, nsamples, seqlen, rtnOnly }),
        opts.shardTimeoutMs ?? 86_400_000,
      );
    if (parts) mkdirSync(parts.dir, { recursive: true });
    else if (existsSync(progressPath)) {
      try {
        const saved = JSON.parse(readFileSync(progressPath, "utf8")) as { key: string; done: typeof done };
        if (saved.key === key) done = saved.done.filter((d) => existsSync(join(partial, shardName(d.layer, nShards))));
      } catch {
        done = []; // unreadable progress: start over
      }
    }
    if (!parts && done.length === 0) rmSync(partial, { recursive: true, force: true });
    if (!parts) mkdirSync(partial, { recursive: true });
    const resumedLayers = done.length;

    const overlay = new Map(src.tensors);
    const useFile = async (path: string) => {
      const st = await openSafetensorsTensors(path);
      opened.push(st);
      for (const [name, t] of st.tensors) overlay.set(name, t);
    };
    // unsharded: the layer's file; sharded: every shard's part of the layer (the copied tensors are the source's)
    const useShard = async (L: number) => {
      if (!parts) return useFile(join(partial, shardName(L, nShards)));
      return useFile(await parts.layerIndex(L));
    };
    const total = linears.flat().length + cfg.numLayers;
    let step = 0;
    const tick = (label: string) => opts.onProgress?.(++step, total, label);
    // A model over the weights as they stand: layers already quantized come from their shards.
    const storeNow = () => new WeightStore(dir, overlay, { memoryBudgetBytes: opts.memoryBudgetBytes ?? 2 ** 30 });
    // Each pass gets a fresh store over the overlay so far, closed after it: its weights live in the kernels'
    // shared memory until then.
    const withModel = (run: (model: Llama4TextModel) => void): void => {
      const store = storeNow();
      let model: Llama4TextModel | undefined;
      try {
        model = new Llama4TextModel(cfg, store, { ggmlNumerics: false });
        run(model);
      } finally {
        model?.close(); // its K/V cache lives in the kernel memory too
        store.close();
      }
    };
    const embeddings = storeNow();
    let inputs: LayerInputs;
    try {
      inputs = new LayerInputs(samples, cfg.hiddenSize, embeddings);
    } finally {
      embeddings.close();
    }
    // After layer L's shard is in the overlay: its quantized outputs become layer L+1's inputs.
    const advance = async (L: number) => {
      await useShard(L);
      if (samples.length > 0 && L + 1 < cfg.numLayers) withModel((model) => inputs.advance(model, L));
    };

    // Norms, the router and excluded plain Linears of layer L: copied as they are.
    const layerCopies = (L: number, report: GptqLinearReport[]): PendingTensor[] => {
      const quantized = new Set(report.filter((r) => r.method !== "bf16").map((r) => `${r.module}.weight`));
      const copies: PendingTensor[] = [];
      for (const name of layerTensors(L)) {
        const e = raw.tensors.get(name)!;
        // Routed experts (fused or unfused) are always written per expert, quantized or as BF16.
        const expertWeight = mapLlama4HfName(name)?.rule.layout !== "plain";
        if (expertWeight || quantized.has(name)) continue;
        copies.push({ name, dtype: e.dtype, shape: e.shape, bytes: () => raw.readBytes(name) });
      }
      return copies;
    };
    // GPTQ's solve cost of a Linear: the Cholesky of its Hessian and the column sweep over its rows
    const solveCost = (L: number) =>
      linears[L].map((lin) => {
        const [cols, rows] = src.tensors.get(lin.gguf)!.ne;
        return isExcluded(lin.module, excludeRe) ? cols : cols * cols * (cols + rows);
      });
    let resumedParts = 0;
    for (let L = 0; L < cfg.numLayers; L++) {
      const owner = parts ? assignUnitsToShards(solveCost(L), parts.spec.count) : undefined;
      const owned = (k: number) => owner === undefined || owner[k] === parts!.spec.index;
      if (parts && parts.read(L) !== undefined) {
        resumedParts++;
        // this shard's part of the layer is there from an earlier run of it: meet the others and go on
        done.push({ layer: L, report: await parts.waitForLayer(L) });
        await advance(L);
        step += linears[L].length + 1;
        opts.onProgress?.(step, total, `layer ${L} (resumed)`);
        continue;
      }
      if (done.some((d) => d.layer === L)) {
        await advance(L);
        step += linears[L].length + 1;
        opts.onProgress?.(step, total, `layer ${L} (resumed)`);
        continue;
      }
      // Calibrate: layer L as stored, on the outputs of the quantized layers 0..L−1.
      const hessians = new LayerHessians(L);
      // --rtn has no samples: nothing to observe (and the inputs never advance past layer 0).
      if (samples.length > 0 && linears[L].some((_, k) => owned(k)))
        withModel((model) => {
          model.setTap((ev: ActivationEvent) => hessians.tap(ev));
          inputs.observe(model, L);
        });
      tick(`layer ${L} calibrated`);

      // Once the last Linear of a group is done, its rows and H are not needed again.
      const releaseIfLast = (gguf: string, expert: number | undefined) => {
        const g = hessians.groupOf(gguf, expert);
        if (g && g.tensors[g.tensors.length - 1] === gguf) hessians.release(g);
      };
      const pending: PendingTensor[] = [];
      const mine: PartReport = [];
      const report: GptqLinearReport[] = [];
      // Solved in submission order whatever the thread count: the same report and shard bytes.
      const inFlight: { solved: Promise<SolveResult>; rows: number; cols: number; module: string; k: number }[] = [];
      const consume = async () => {
        const head = inFlight.shift()!;
        const { entry, packed } = await head.solved;
        mine.push({ k: head.k, entry });
        pending.push(...gptqTensors(head.module, packed, head.rows, head.cols, settings.bits));
        tick(head.module);
      };
      for (const [k, lin] of linears[L].entries()) {
        if (!owned(k)) {
          releaseIfLast(lin.gguf, lin.expert);
          continue;
        }
        const t = src.tensors.get(lin.gguf)!;
        const [cols, rows] = t.ne;
        const label = lin.expert === undefined ? lin.module : `${lin.module} (expert ${lin.expert} of ${lin.gguf})`;
        if (isExcluded(lin.module, excludeRe)) {
          while (inFlight.length > 0) await consume(); // the report keeps the layer's order
          if (lin.expert !== undefined) {
            // in the dtype the checkpoint stores (a fused BF16 slice, or the unfused tensor's own dtype)
            const dtype = raw.tensors.get(`${lin.module}.weight`)?.dtype ?? DTYPE_OF[t.type]!;
            pending.push({
              name: `${lin.module}.weight`,
              dtype,
              shape: [rows, cols],
              bytes: async () => encodeFromFloat32(f32Of(t, lin.expert, label, dir), dtype),
            });
          }
          mine.push({
            k,
            entry: {
              module: lin.module,
              method: "bf16",
              tokens: hessians.groupOf(lin.gguf, lin.expert)?.n ?? 0,
              gptqError: null,
              rtnError: null,
              gptqLoss: null,
              reason: "--exclude",
            },
          });
          releaseIfLast(lin.gguf, lin.expert);
          tick(lin.module);
          continue;
        }
        const W = f32Of(t, lin.expert, label, dir);
        const group = hessians.groupOf(lin.gguf, lin.expert);
        const tokens = group?.n ?? 0;
        const rtnReason =
          group && !(lin.expert !== undefined && tokens < settings.minExpertTokens)
            ? null
            : rtnOnly
              ? "round-to-nearest run (--rtn)"
              : `${tokens} routed tokens < ${settings.minExpertTokens}`;
        const job = { module: lin.module, W, rows, cols, sum: group ? hessians.accumulator(group).sum : null, n: tokens, rtnReason, settings };
        const solved = pool.submit(job);
        solved.catch(() => undefined); // surfaced when awaited in order below
        inFlight.push({ solved, rows, cols, module: lin.module, k });
        releaseIfLast(lin.gguf, lin.expert);
        while (inFlight.length >= pool.threads) await consume();
      }
      while (inFlight.length > 0) await consume();
      if (parts) {
        await writeShard(parts.tensorsPath(L), pending);
        parts.write(L, mine);
        done.push({ layer: L, report: await parts.waitForLayer(L) });
        await advance(L);
        continue;
      }
      report.push(...mine.map((m) => m.entry));
      pending.push(...layerCopies(L, report));
      await writeShard(join(partial, shardName(L, nShards)), pending);
      wroteSomething = true;
      done.push({ layer: L, report });
      writeFileAtomicSync(progressPath, JSON.stringify({ key, done }));
      await advance(L);
    }

    // Everything outside the decoder layers: embeddings, final norm, lm_head, vision tower, projector.
    const rest = names.filter((n) => layerOf(n) === undefined);
    const restTensors: PendingTensor[] = rest.map((name) => {
      const e = raw.tensors.get(name)!;
      return { name, dtype: e.dtype, shape: e.shape, bytes: () => raw.readBytes(name) };
    });
    const quantizationConfig = gptqQuantizationConfig(settings, rtnOnly ? "rtn" : "gptq");
    const layers = done.sort((a, b) => a.layer - b.layer).map((d) => ({ layer: d.layer, linears: d.report }));
    const report: GptqReport = {
      settings: { ...settings, nsamples, seqlen },
      layers,
      fallbacks: rtnOnly
        ? []
        : layers.flatMap((l) => l.linears.filter((r) => r.method === "rtn").map((r) => ({ module: r.module, tokens: r.tokens, method: "rtn" as const }))),
      notConverted: names.filter(
        (n) =>
          !layers.some((l) => l.linears.some((r) => r.method !== "bf16" && `${r.module}.weight` === n)) &&
          !/experts\.(gate_up|down)_proj$/.test(n) &&
          !UNFUSED_EXPERT_RE.test(n),
      ),
    };
    const reportBytes = Buffer.from(JSON.stringify(report, null, 2) + "\n", "utf8");
    if (parts) {
      // The folder's layout from every part and the source, as writeShard and finishGptqFolder would write it.
      const writers: FolderLayout["writers"][number][] = [];
      const weightFiles: GptqWeightFile[] = [];
      const copies: PendingTensor[] = [];
      const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1); // writeShard's order
      for (let L = 0; L <= cfg.numLayers; L++) {
        const decl: (DeclaredTensor & { byteLength: number })[] = [];
        const layerCopied = L < cfg.numLayers ? layerCopies(L, done[L].report) : restTensors;
        for (let i = 1; L < cfg.numLayers && i <= parts.spec.count; i++) {
          const st = await openSafetensors(parts.tensorsPath(L, i));
          for (const t of st.tensors.values()) decl.push({ name: t.name, dtype: t.dtype, shape: t.shape, byteLength: t.byteLength });
          await st.close();
        }
        for (const c of layerCopied) decl.push({ name: c.name, dtype: c.dtype, shape: c.shape, byteLength: raw.tensors.get(c.name)!.byteLength });
        copies.push(...layerCopied);
        decl.sort(byName);
        writers.push({ path: shardName(L, nShards), tensors: decl.map(({ name, dtype, shape }) => ({ name, dtype, shape })) });
        weightFiles.push({ file: shardName(L, nShards), tensors: decl });
      }
      const folder = gptqFolderFiles(weightFiles, dir, configJson, quantizationConfig);
      const files = [...folder.files, { name: "gptq-report.json", bytes: reportBytes }];
      const copyOwner = assignUnitsToShards(
        copies.map((c) => raw.tensors.get(c.name)!.byteLength),
        parts.spec.count,
      );
      const fingerprint = createHash("sha256").update(parts.key).digest("hex");
      const w = await FolderShardWriter.open(out, parts.spec, fingerprint, { writers, files: files.map((f) => f.name) });
      try {
        for (let L = 0; L < cfg.numLayers; L++) {
          const st = await openSafetensors(parts.tensorsPath(L));
          try {
            for (const name of st.tensors.keys()) await w.addTensor(name, await st.readBytes(name));
          } finally {
            await st.close();
          }
        }
        for (const [k, c] of copies.entries()) if (copyOwner[k] === parts.spec.index) await w.addTensor(c.name, await c.bytes());
        if (parts.spec.index === 1) for (const f of files) await w.addFile(f.name, f.bytes);
        await w.finish();
      } catch (err) {
        await w.abort();
        throw err;
      }
      return {
        output: out,
        files: [w.path],
        totalBytes: folder.totalBytes,
        resumedLayers: resumedParts,
        report,
        threadsUsed: pool.threadsUsed.size,
        shardFile: w.path,
      };
    }
    await writeShard(join(partial, shardName(cfg.numLayers, nShards)), restTensors);
    // Index, configs, tokenizer/processor files.
    const totalBytes = await finishGptqFolder(partial, nShards, dir, configJson, quantizationConfig);
    writeFileAtomicSync(join(partial, "gptq-report.json"), reportBytes);
    rmSync(progressPath);
    for (const o of opened.splice(0)) o.close();
    if (existsSync(out)) rmSync(out, { recursive: true });
    renameSync(partial, out);
    return { output: out, files: readdirSync(out).sort(), totalBytes, resumedLayers, report, threadsUsed: pool.threadsUsed.size };
  } catch (err) {
    // Bad input leaves nothing behind; anything else keeps <out>.partial so the next run resumes.
    if (err instanceof InputError || !wroteSomething) rmSync(partial, { recursive: true, force: true });
    throw err;
  } finally {
    for (const o of opened) o.close();
    await raw.close();
    await pool.close();
  }
}
