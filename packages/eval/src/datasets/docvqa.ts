// DocVQA as lmms-eval's `docvqa_val` task runs it: prompt = question + "\nAnswer the question using a
// single word or phrase.", greedy generation (max_new_tokens 32), ANLS (threshold 0.5) against all gold
// answers, averaged over questions. Data: `lmms-lab/DocVQA` parquet (HF Image struct {bytes, path}).
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { InputError } from "@moeq/formats";
import type { EvalModel, ProgressFn } from "../model.js";
import { anlsScore, type AnlsVariant } from "../metrics/anls.js";
import { readRows, stringField } from "./table-file.js";
import { sampleIndices } from "./sampling.js";

export const DOCVQA_POST_PROMPT = "\nAnswer the question using a single word or phrase.";
export const DOCVQA_MAX_NEW_TOKENS = 32;

export interface DocVqaItem {
  questionId: string;
  question: string;
  answers: string[];
  /** Encoded image file bytes (PNG/JPEG) as stored in the parquet. */
  image?: Uint8Array;
}

/** lmms-eval's docvqa_doc_to_text with the default pre_prompt "" and post_prompt. */
export function docvqaUserText(question: string): string {
  return question + DOCVQA_POST_PROMPT;
}

/** One user turn (image first) plus the generation prompt, as the Llama 4 chat template renders it. */
export function llama4ChatPrompt(userText: string, withImage: boolean): string {
  const body = (withImage ? "<|image|>" : "") + userText;
  return `<|begin_of_text|><|header_start|>user<|header_end|>\n\n${body}<|eot|><|header_start|>assistant<|header_end|>\n\n`;
}

function imageBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (v && typeof v === "object" && "bytes" in v) {
    const b = (v as { bytes: unknown }).bytes;
    if (b instanceof Uint8Array) return b;
    if (Array.isArray(b)) return Uint8Array.from(b as number[]);
    if (typeof b === "string") return Uint8Array.from(Buffer.from(b, "base64"));
  }
  return undefined;
}

/**
 * DocVQA rows of an lmms-lab/DocVQA parquet (read with utf8:false so the HF Image struct's `bytes` stay
 * binary) or a JSONL whose rows carry `image: {bytes: base64}` or an `image_path` relative to the file.
 */
export async function loadDocVqaItems(path: string): Promise<DocVqaItem[]> {
  const rows = await readRows(path, { utf8: false, columns: path.endsWith(".parquet") ? ["questionId", "question", "answers", "image"] : undefined });
  return rows.map((row, i) => {
    const question = stringField(row, "question", path, i);
    const answers = row.answers;
    if (!Array.isArray(answers) || !answers.every((a) => typeof a === "string")) {
      throw new InputError("DATA_BAD_FIELD", `row ${i}: "answers" must be a list of strings (the test split has none; use validation)`, { file: path });
    }
    let image = imageBytes(row.image);
    if (!image && typeof row.image_path === "string") {
      const p = resolve(dirname(path), row.image_path);
      if (!existsSync(p)) throw new InputError("DATA_BAD_FIELD", `row ${i}: image_path ${row.image_path} not found next to the file`, { file: path });
      image = new Uint8Array(readFileSync(p));
    }
    return { questionId: String(row.questionId ?? i), question, answers: answers as string[], image };
  });
}

export function selectDocVqaSubset(items: readonly DocVqaItem[], limit: number | undefined, seed = 1234): DocVqaItem[] {
  if (limit === undefined) return items.slice();
  return sampleIndices(items.length, limit, seed).map((i) => items[i]);
}

export interface DocVqaItemResult {
  questionId: string;
  prediction: string;
  answers: string[];
  anls: number;
}

export interface DocVqaResult {
  n: number;
  /** Mean ANLS in [0, 1] (model cards print ×100). */
  anls: number;
  anlsStderr: number;
  items: DocVqaItemResult[];
}

export interface DocVqaEvalOptions {
  /** Wraps the user text into the model's prompt; default: the Llama 4 chat format. */
  formatPrompt?: (userText: string, withImage: boolean) => string;
  maxTokens?: number;
  variant?: AnlsVariant;
  onProgress?: ProgressFn;
}

export async function evaluateDocVqa(model: EvalModel, items: readonly DocVqaItem[], opts: DocVqaEvalOptions = {}): Promise<DocVqaResult> {
  const format = opts.formatPrompt ?? llama4ChatPrompt;
  const out: DocVqaItemResult[] = [];
  for (const [i, it] of items.entries()) {
    const prompt = format(docvqaUserText(it.question), it.image !== undefined);
    // lmms-eval's model wrappers return the decoded continuation stripped of surrounding whitespace
    const pred = (await model.generate(prompt, { image: it.image, maxTokens: opts.maxTokens ?? DOCVQA_MAX_NEW_TOKENS })).trim();
    out.push({ questionId: it.questionId, prediction: pred, answers: it.answers, anls: anlsScore(pred, it.answers, { variant: opts.variant }) });
    opts.onProgress?.(i + 1, items.length);
  }
  const n = out.length;
  const mean = n ? out.reduce((s, r) => s + r.anls, 0) / n : 0;
  const variance = n > 1 ? out.reduce((s, r) => s + (r.anls - mean) ** 2, 0) / (n - 1) : 0;
  return { n, anls: mean, anlsStderr: n ? Math.sqrt(variance / n) : 0, items: out };
}
