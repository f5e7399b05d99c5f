// MMLU as lm-evaluation-harness's `mmlu` task scores it (default variant, --num_fewshot k):
// description "The following are multiple choice questions (with answers) about {subject}.\n\n",
// k dev-split examples of the same subject in file order (sampler first_n) each followed by " {letter}\n\n",
// then the test question ending in "Answer:"; the four continuations " A".." D" are scored by
// log-likelihood and acc = argmax == gold. Aggregate acc is the micro-average over questions.
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { InputError } from "@moeq/formats";
import type { EvalModel, ProgressFn } from "../model.js";
import { readRows, stringField, type Row } from "./table-file.js";
import { sampleIndices } from "./sampling.js";

export const MMLU_LETTERS = "ABCDEFGHIJ";

export interface MmluItem {
  question: string;
  subject: string;
  choices: string[];
  /** Gold choice index. */
  answer: number;
}

/** lm-eval's description line, subject with underscores as spaces, ending in a blank line. */
export function mmluHeader(subject: string): string {
  return `The following are multiple choice questions (with answers) about ${subject.replaceAll("_", " ")}.\n\n`;
}

/** lm-eval's doc_to_text: question.strip(), lettered choices, "Answer:". */
export function formatMmluQuestion(item: MmluItem): string {
  let s = item.question.trim();
  item.choices.forEach((c, i) => (s += `\n${MMLU_LETTERS[i]}. ${c}`));
  return s + "\nAnswer:";
}

/** The full few-shot context for one test item (fewshot_delimiter "\n\n", target_delimiter " "). */
export function mmluContext(item: MmluItem, shots: readonly MmluItem[]): string {
  let s = mmluHeader(item.subject);
  for (const sh of shots) s += `${formatMmluQuestion(sh)} ${MMLU_LETTERS[sh.answer]}\n\n`;
  return s + formatMmluQuestion(item);
}

function logSoftmaxAt(logits: Float32Array, off: number, nVocab: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < nVocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let s = 0;
  for (let i = 0; i < nVocab; i++) s += Math.exp(logits[off + i] - max);
  return logits[off + target] - max - Math.log(s);
}

/** Index of the largest value; the first one wins ties (numpy argmax, as lm-eval uses). */
export function argmaxFirst(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * lm-eval `loglikelihood` for (context, continuation) pairs sharing one context: continuation tokens are
 * tok(context + cont)[len(tok(context)):], the model sees tok(context) + those tokens minus the last.
 * When every continuation is one token (the usual " A".." D"), one forward pass scores all of them.
 */
export async function loglikelihoods(model: EvalModel, context: string, continuations: readonly string[]): Promise<number[]> {
  const addBos = model.bosId !== null;
  const ctx = model.tokenize(context, { addBos });
  const conts = continuations.map((c) => model.tokenize(context + c, { addBos }).slice(ctx.length));
  const V = model.vocabSize;
  if (conts.every((c) => c.length === 1)) {
    const logits = await model.logits(ctx);
    const off = (ctx.length - 1) * V;
    return conts.map((c) => logSoftmaxAt(logits, off, V, c[0]));
  }
  const out: number[] = [];
  for (const cont of conts) {
    if (cont.length === 0) throw new Error(`${model.name}: continuation tokenizes to nothing after context`);
    const seq = ctx.concat(cont);
    const logits = await model.logits(seq.slice(0, -1));
    let ll = 0;
    for (let k = 0; k < cont.length; k++) ll += logSoftmaxAt(logits, (ctx.length - 1 + k) * V, V, cont[k]);
    out.push(ll);
  }
  return out;
}

export interface AccuracyStat {
  n: number;
  correct: number;
  acc: number;
  /** lm-eval mean_stderr: sample standard deviation / sqrt(n) = sqrt(acc(1−acc)/(n−1)). */
  accStderr: number;
}

export function accuracyStat(correct: number, n: number): AccuracyStat {
  const acc = n ? correct / n : 0;
  return { n, correct, acc, accStderr: n > 1 ? Math.sqrt((acc * (1 - acc)) / (n - 1)) : 0 };
}

export interface MmluItemResult {
  subject: string;
  gold: number;
  pred: number;
  logliks: number[];
}

export interface MmluResult extends AccuracyStat {
  k: number;
  bySubject: Record<string, AccuracyStat>;
  items: MmluItemResult[];
}

export interface MmluEvalOptions {
  /** Dev-split items to draw shots from (first k of the same subject). */
  fewshot?: readonly MmluItem[];
  /** Number of shots; default 5 (lm-eval --num_fewshot 5). */
  k?: number;
  onProgress?: ProgressFn;
}

export async function evaluateMmlu(model: EvalModel, items: readonly MmluItem[], opts: MmluEvalOptions = {}): Promise<MmluResult> {
  const k = opts.k ?? 5;
  const shotsBySubject = new Map<string, MmluItem[]>();
  for (const it of opts.fewshot ?? []) {
    const list = shotsBySubject.get(it.subject) ?? [];
    if (list.length < k) list.push(it);
    shotsBySubject.set(it.subject, list);
  }
  const results: MmluItemResult[] = [];
  for (const [i, item] of items.entries()) {
    const shots = k > 0 ? (shotsBySubject.get(item.subject) ?? []) : [];
    if (shots.length < k) {
      throw new InputError("MMLU_FEW_SHOTS", `subject "${item.subject}" has ${shots.length} few-shot examples, ${k} needed (pass the dev split or --k 0)`);
    }
    const logliks = await loglikelihoods(
      model,
      mmluContext(item, shots),
      item.choices.map((_, c) => ` ${MMLU_LETTERS[c]}`),
    );
    results.push({ subject: item.subject, gold: item.answer, pred: argmaxFirst(logliks), logliks });
    opts.onProgress?.(i + 1, items.length);
  }
  const bySubject: Record<string, AccuracyStat> = {};
  const subjects = [...new Set(results.map((r) => r.subject))].sort();
  for (const s of subjects) {
    const rs = results.filter((r) => r.subject === s);
    bySubject[s] = accuracyStat(rs.filter((r) => r.pred === r.gold).length, rs.length);
  }
  return { ...accuracyStat(results.filter((r) => r.pred === r.gold).length, results.length), k, bySubject, items: results };
}

function toItem(row: Row, file: string, i: number, subjectFallback: string | undefined): MmluItem {
  const question = stringField(row, "question", file, i);
  const subject = typeof row.subject === "string" && row.subject ? row.subject : subjectFallback;
  if (!subject) throw new InputError("DATA_BAD_FIELD", `row ${i}: no "subject" field and none implied by the file's folder`, { file });
  const choices = row.choices;
  if (!Array.isArray(choices) || choices.length < 2 || choices.length > MMLU_LETTERS.length || !choices.every((c) => typeof c === "string")) {
    throw new InputError("DATA_BAD_FIELD", `row ${i}: "choices" must be a list of 2–10 strings`, { file });
  }
  let answer: number;
  const a = row.answer;
  if (typeof a === "number" || typeof a === "bigint") answer = Number(a);
  else if (typeof a === "string" && /^[A-J]$/.test(a)) answer = MMLU_LETTERS.indexOf(a);
  else throw new InputError("DATA_BAD_FIELD", `row ${i}: "answer" must be an index or a letter, got ${JSON.stringify(a)}`, { file });
  if (!Number.isInteger(answer) || answer < 0 || answer >= choices.length) {
    throw new InputError("DATA_BAD_FIELD", `row ${i}: answer ${answer} is outside the ${choices.length} choices`, { file });
  }
  return { question, subject, choices: choices as string[], answer };
}

/** MMLU rows of a `cais/mmlu` parquet (`{subject}/{split}-00000-of-00001.parquet`) or a JSONL with the same fields. */
export async function loadMmluItems(path: string): Promise<MmluItem[]> {
  const rows = await readRows(path, { columns: undefined });
  const folder = basename(dirname(path));
  const fallback = folder && folder !== "all" && folder !== "." ? folder : undefined;
  return rows.map((r, i) => toItem(r, path, i, fallback));
}

/** The dev split next to a test/validation file: `test-00000-of-00001.parquet` → `dev-00000-of-00001.parquet`. */
export function mmluDevFileFor(path: string): string | undefined {
  const name = basename(path);
  const dev = name.replace(/^(test|validation)([-_.])/, "dev$2");
  if (dev === name) return undefined;
  const p = join(dirname(path), dev);
  return existsSync(p) ? p : undefined;
}

export interface MmluSubsetOptions {
  subjects?: readonly string[];
  /** At most this many questions per subject. */
  limit?: number;
  /** Seed of the per-subject sampling; the same seed always picks the same questions. */
  seed?: number;
}

/**
 * Deterministic subset: keep the named subjects, then per subject a seeded sample of `limit`
 * questions in file order. (lm-eval's --limit takes the first N; a seeded sample avoids the bias of
 * the file's order while staying reproducible.)
 */
export function selectMmluSubset(items: readonly MmluItem[], opts: MmluSubsetOptions): MmluItem[] {
  let pool = items.map((it, i) => ({ it, i }));
  if (opts.subjects?.length) {
    const known = new Set(items.map((x) => x.subject));
    const missing = opts.subjects.filter((s) => !known.has(s));
    if (missing.length) throw new InputError("MMLU_UNKNOWN_SUBJECT", `no questions for subject(s) ${missing.join(", ")}`);
    const want = new Set(opts.subjects);
    pool = pool.filter((x) => want.has(x.it.subject));
  }
  if (opts.limit === undefined) return pool.map((x) => x.it);
  const keep: number[] = [];
  const seed = opts.seed ?? 1234;
  const subjects = [...new Set(pool.map((x) => x.it.subject))].sort();
  subjects.forEach((s, si) => {
    const group = pool.filter((x) => x.it.subject === s);
    for (const k of sampleIndices(group.length, opts.limit as number, seed + 7919 * si)) keep.push(group[k].i);
  });
  return keep.sort((a, b) => a - b).map((i) => items[i]);
}
