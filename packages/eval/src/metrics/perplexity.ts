// Perplexity exactly as llama.cpp's `llama-perplexity` (non-strided mode, tools/perplexity/perplexity.cpp):
// tokenize the whole text once (BOS prepended when the model adds one), cut it into floor(n/ctx)
// non-overlapping chunks, overwrite each chunk's first token with BOS for the forward pass, score the
// second half of every window (positions ctx/2 … ctx−2 predict the next token), and report
// PPL = exp(mean NLL) ± PPL·sqrt((E[nll²] − E[nll]²)/(N − 1)).
import { InputError } from "@moeq/formats";
import type { EvalModel, ProgressFn } from "../model.js";
import { encodeLogProbRow, kldRowWords, tokenNll } from "./log-softmax.js";
import { KldFileWriter, kldRowsPerChunk } from "./kld-file.js";

export interface PerplexityOptions {
  /** Window size n_ctx (llama-perplexity's -c); default 512. */
  ctx?: number;
  /** Cap on the number of chunks (llama-perplexity's --chunks); default all. */
  chunks?: number;
  /** Also write llama.cpp's `.kld` base-logits file here (llama-perplexity's --kl-divergence-base). */
  saveKldBase?: string;
  /** Names the corpus in error messages. */
  file?: string;
  onProgress?: ProgressFn;
}

export interface PerplexityResult {
  ppl: number;
  /** Uncertainty of PPL as llama-perplexity prints it after "+/-". */
  pplStderr: number;
  meanNll: number;
  nllStderr: number;
  nCtx: number;
  nChunk: number;
  /** Tokens in the whole tokenized corpus. */
  nTokens: number;
  /** Scored tokens: nChunk·(nCtx − 1 − nCtx/2). */
  tokensScored: number;
  /** Running PPL after each chunk (llama-perplexity's `[i]x.xxxx` line). */
  chunkPpl: number[];
}

export const DEFAULT_PPL_CTX = 512;

/** Tokens of a corpus as llama-perplexity makes them: add_special = true, special text not parsed. */
export function tokenizeCorpus(model: EvalModel, text: string): number[] {
  return model.tokenize(text, { addBos: model.bosId !== null, parseSpecial: false });
}

/** Number of chunks llama-perplexity would evaluate; throws InputError when the text is too short. */
export function planChunks(nTokens: number, nCtx: number, chunks: number | undefined, file?: string): number {
  if (!Number.isInteger(nCtx) || nCtx < 4) throw new InputError("PPL_BAD_CTX", `context size must be an integer ≥ 4, got ${nCtx}`, { file });
  if (nTokens < 2 * nCtx) {
    throw new InputError("PPL_TOO_FEW_TOKENS", `tokenizes to only ${nTokens} tokens; a context of ${nCtx} needs at least ${2 * nCtx}`, {
      file,
      details: { nTokens, nCtx },
    });
  }
  const max = Math.floor(nTokens / nCtx);
  if (chunks === undefined || chunks < 0) return max;
  if (!Number.isInteger(chunks) || chunks === 0) throw new InputError("PPL_BAD_CHUNKS", `--chunks must be a positive integer, got ${chunks}`, { file });
  return Math.min(chunks, max);
}

/** The forward-pass input of chunk `i`: tokens [i·nCtx, (i+1)·nCtx) with the first one replaced by BOS when there is one. */
export function chunkInput(tokens: ArrayLike<number>, i: number, nCtx: number, bosId: number | null): number[] {
  const out = Array.from({ length: nCtx }, (_, k) => tokens[i * nCtx + k]);
  if (bosId !== null) out[0] = bosId;
  return out;
}

function checkLogits(logits: Float32Array, n: number, nVocab: number, model: EvalModel): void {
  if (logits.length !== n * nVocab) {
    throw new Error(`${model.name}: logits() returned ${logits.length} values for ${n} tokens × ${nVocab} vocab`);
  }
}

/** llama-perplexity on a text. */
export async function perplexity(model: EvalModel, text: string, opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  return perplexityOfTokens(model, tokenizeCorpus(model, text), opts);
}

/** llama-perplexity on already tokenized text (BOS, if any, already prepended). */
export async function perplexityOfTokens(model: EvalModel, tokens: ArrayLike<number>, opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  const nCtx = opts.ctx ?? DEFAULT_PPL_CTX;
  const nChunk = planChunks(tokens.length, nCtx, opts.chunks, opts.file);
  const nVocab = model.vocabSize;
  const first = Math.floor(nCtx / 2);
  const perChunk = kldRowsPerChunk(nCtx);
  const writer = opts.saveKldBase ? KldFileWriter.create(opts.saveKldBase, nCtx, nVocab, nChunk, tokens) : undefined;
  const rows = writer ? new Uint16Array(perChunk * kldRowWords(nVocab)) : undefined;
  const nv = kldRowWords(nVocab);
  let nll = 0;
  let nll2 = 0;
  let count = 0;
  const chunkPpl: number[] = [];
  try {
    for (let i = 0; i < nChunk; i++) {
      const input = chunkInput(tokens, i, nCtx, model.bosId);
      const logits = await model.logits(input);
      checkLogits(logits, nCtx, nVocab, model);
      const start = i * nCtx;
      for (let j = 0; j < perChunk; j++) {
        const pos = first + j;
        const target = tokens[start + pos + 1];
        // Saving mode and plain mode round differently in llama.cpp; keep each path's arithmetic.
        const v = rows ? encodeLogProbRow(logits, pos * nVocab, nVocab, target, rows, j * nv) : tokenNll(logits, pos * nVocab, nVocab, target);
        nll += v;
        nll2 += v * v;
      }
      if (writer && rows) writer.writeChunk(rows);
      count += perChunk;
      chunkPpl.push(Math.exp(nll / count));
      opts.onProgress?.(i + 1, nChunk);
    }
    writer?.close();
  } catch (err) {
    writer?.abort();
    throw err;
  }
  const meanNll = nll / count;
  const variance = nll2 / count - meanNll * meanNll;
  const nllStderr = variance > 0 ? Math.sqrt(variance / (count - 1)) : 0;
  const ppl = Math.exp(meanNll);
  return { ppl, pplStderr: nllStderr * ppl, meanNll, nllStderr, nCtx, nChunk, nTokens: tokens.length, tokensScored: count, chunkPpl };
}

/** "Final estimate: PPL = 6.2316 +/- 0.03777", as llama-perplexity prints it. */
export function formatPerplexity(r: PerplexityResult): string {
  return `Final estimate: PPL = ${r.ppl.toFixed(4)} +/- ${r.pplStderr.toFixed(5)}`;
}
