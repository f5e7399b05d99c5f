// One function per task, shared by `moeq eval` (one task) and `moeq gate` (the tasks a gate file lists).
import { existsSync, readFileSync } from "node:fs";
import { InputError } from "@moeq/formats";
import type { EvalModel } from "./model.js";
import { perplexity, DEFAULT_PPL_CTX, type PerplexityResult } from "./metrics/perplexity.js";
import { klDivergence, type KldResult } from "./metrics/kld.js";
import { KldFileReader } from "./metrics/kld-file.js";
import { evaluateMmlu, loadMmluItems, mmluDevFileFor, selectMmluSubset, type MmluResult } from "./datasets/mmlu.js";
import { evaluateDocVqa, loadDocVqaItems, selectDocVqaSubset, type DocVqaResult } from "./datasets/docvqa.js";
import type { DocVqaTaskSpec, KldTaskSpec, MmluTaskSpec, PplTaskSpec, TaskName } from "./gates/gate-file.js";

export type TaskProgress = (task: TaskName | "base", done: number, total: number) => void;

function readCorpus(path: string): string {
  if (!existsSync(path)) throw new InputError("DATA_NOT_FOUND", "text corpus not found", { file: path });
  return readFileSync(path, "utf8");
}

/** llama-perplexity over a corpus; with `saveKldBase`, also writes the `.kld` base-logits file (its --kl-divergence-base). */
export async function runPplTask(model: EvalModel, spec: PplTaskSpec, onProgress?: TaskProgress, saveKldBase?: string): Promise<PerplexityResult> {
  return perplexity(model, readCorpus(spec.data), {
    ctx: spec.ctx ?? DEFAULT_PPL_CTX,
    chunks: spec.chunks,
    file: spec.data,
    saveKldBase,
    onProgress: (d, t) => onProgress?.("ppl", d, t),
  });
}

/**
 * Makes sure the base model's `.kld` file exists at `path`, the way llama-perplexity's
 * --kl-divergence-base works: reuse it when it is there (checking its n_ctx), else run the base model
 * over the corpus and write it once. Returns the base model's PPL when it was computed.
 */
export async function ensureBaseLogits(
  path: string,
  spec: KldTaskSpec,
  openBase: (() => Promise<EvalModel>) | undefined,
  onProgress?: TaskProgress,
): Promise<PerplexityResult | undefined> {
  if (existsSync(path)) {
    const r = KldFileReader.open(path);
    const { nCtx } = r.header;
    r.close();
    if (spec.ctx !== undefined && spec.ctx !== nCtx) {
      throw new InputError(
        "KLD_CTX_MISMATCH",
        `base logits were computed with n_ctx=${nCtx}, the task asks for ${spec.ctx}; delete the file or use ctx ${nCtx}`,
        { file: path },
      );
    }
    return undefined;
  }
  if (!openBase) throw new InputError("KLD_NEEDS_BASE", `base logits ${path} do not exist and no base model was given (--base)`, { file: path });
  if (!spec.data) throw new InputError("KLD_NEEDS_DATA", "computing base logits needs a text corpus (--data / tasks.kld.data)");
  const base = await openBase();
  try {
    return await perplexity(base, readCorpus(spec.data), {
      ctx: spec.ctx ?? DEFAULT_PPL_CTX,
      chunks: spec.chunks,
      file: spec.data,
      saveKldBase: path,
      onProgress: (d, t) => onProgress?.("base", d, t),
    });
  } finally {
    await base.close();
  }
}

export async function runKldTask(model: EvalModel, baseLogits: string, spec: KldTaskSpec, onProgress?: TaskProgress): Promise<KldResult> {
  return klDivergence(model, baseLogits, { chunks: spec.chunks, onProgress: (d, t) => onProgress?.("kld", d, t) });
}

export async function runMmluTask(model: EvalModel, spec: MmluTaskSpec, onProgress?: TaskProgress): Promise<MmluResult> {
  if (!existsSync(spec.data)) throw new InputError("DATA_NOT_FOUND", "MMLU data not found", { file: spec.data });
  const k = spec.k ?? 5;
  const all = await loadMmluItems(spec.data);
  const items = selectMmluSubset(all, { subjects: spec.subjects, limit: spec.limit, seed: spec.seed });
  let fewshot: Awaited<ReturnType<typeof loadMmluItems>> = [];
  if (k > 0) {
    const devPath = spec.fewshotData ?? mmluDevFileFor(spec.data);
    if (!devPath)
      throw new InputError("MMLU_NO_DEV", `${k}-shot needs the dev split: pass fewshotData (--fewshot-data) or put dev-*.parquet next to the test file`, {
        file: spec.data,
      });
    fewshot = await loadMmluItems(devPath);
  }
  return evaluateMmlu(model, items, { fewshot, k, onProgress: (d, t) => onProgress?.("mmlu", d, t) });
}

export async function runDocVqaTask(model: EvalModel, spec: DocVqaTaskSpec, onProgress?: TaskProgress): Promise<DocVqaResult> {
  if (!existsSync(spec.data)) throw new InputError("DATA_NOT_FOUND", "DocVQA data not found", { file: spec.data });
  const items = selectDocVqaSubset(await loadDocVqaItems(spec.data), spec.limit, spec.seed);
  return evaluateDocVqa(model, items, { onProgress: (d, t) => onProgress?.("docvqa", d, t) });
}
