// KL divergence against a base model exactly as `llama-perplexity --kl-divergence` reports it
// (tools/perplexity/perplexity.cpp, function kl_divergence): the token stream and the base model's
// 16-bit log-probs come from a `.kld` file, the same chunks are re-run with the same BOS overwrite, and
// the same second-half positions are scored.
import { InputError } from "@moeq/formats";
import type { EvalModel, ProgressFn } from "../model.js";
import { accumulateKldToken, KldSums, kldRowWords } from "./log-softmax.js";
import { KldFileReader, kldRowsPerChunk } from "./kld-file.js";
import { chunkInput } from "./perplexity.js";
import { covarianceOfMeans, meanAndUncertainty, medianSorted, percentileSorted, proportionStderr } from "./stats.js";
import { histogram, type Histogram } from "./histogram.js";

export interface ValueAndStderr {
  value: number;
  stderr: number;
}

/** The percentiles llama-perplexity prints for KLD (p75/p25 are only printed for Δp). */
export interface Distribution {
  max: number;
  p99_9: number;
  p99: number;
  p95: number;
  p90: number;
  p75: number;
  median: number;
  p25: number;
  p10: number;
  p5: number;
  p1: number;
  p0_1: number;
  min: number;
}

export interface KldResult {
  nCtx: number;
  nChunk: number;
  tokensScored: number;
  /** llama-perplexity prints the final statistics only from 100 scored tokens on. */
  enoughTokens: boolean;
  pplQ: ValueAndStderr;
  pplBase: ValueAndStderr;
  /** Cor(ln PPL(Q), ln PPL(base)), a fraction (llama.cpp prints it in %). */
  lnPplCorrelation: number;
  /** Mean ln(PPL(Q)/PPL(base)). */
  lnPplRatio: ValueAndStderr;
  /** Mean PPL(Q)/PPL(base). */
  pplRatio: ValueAndStderr;
  /** Mean PPL(Q) − PPL(base). */
  pplDiff: ValueAndStderr;
  kldMean: ValueAndStderr;
  kld: Distribution;
  /** Δp of the correct token, as fractions (llama.cpp prints them ×100 with a %). */
  deltaPMean: ValueAndStderr;
  deltaP: Distribution;
  rmsDeltaP: ValueAndStderr;
  /** Top-1 agreement with the base model, a fraction. */
  sameTopP: ValueAndStderr;
  /** Distribution of per-token KLD for reports (40 bins from 0 to the 99.9th percentile). */
  kldHistogram: Histogram;
}

export interface KldOptions {
  /** Use only the first N chunks of the base file. */
  chunks?: number;
  onProgress?: ProgressFn;
}

function distribution(sorted: Float32Array): Distribution {
  const p = (f: number) => percentileSorted(sorted, f);
  return {
    max: sorted[sorted.length - 1],
    p99_9: p(0.999),
    p99: p(0.99),
    p95: p(0.95),
    p90: p(0.9),
    p75: p(0.75),
    median: medianSorted(sorted),
    p25: p(0.25),
    p10: p(0.1),
    p5: p(0.05),
    p1: p(0.01),
    p0_1: p(0.001),
    min: sorted[0],
  };
}

/** Turns the running sums and per-token values into llama-perplexity's final report. */
export function summarizeKld(sums: KldSums, kldValues: Float32Array, pDiffValues: Float32Array, nCtx: number, nChunk: number): KldResult {
  const n = sums.count;
  const logPpl = meanAndUncertainty(sums.sumNll, sums.sumNll2, n);
  const logPplBase = meanAndUncertainty(sums.sumNllBase, sums.sumNllBase2, n);
  const cov = covarianceOfMeans(sums.sumNll, sums.sumNllBase, sums.sumNllNllBase, n);
  const pplQ = Math.exp(logPpl.mean);
  const pplB = Math.exp(logPplBase.mean);
  const lnRatio = logPpl.mean - logPplBase.mean;
  const lnRatioUnc = Math.sqrt(logPpl.stderr ** 2 + logPplBase.stderr ** 2 - 2 * cov);
  const ratio = Math.exp(lnRatio);
  const pplQUnc = pplQ * logPpl.stderr;
  const pplBUnc = pplB * logPplBase.stderr;
  const pDiffMse = meanAndUncertainty(sums.sumPDiff2, sums.sumPDiff4, n);
  const rms = Math.sqrt(pDiffMse.mean);
  const sameTop = n ? sums.nSameTop / n : 0;
  const kMean = meanAndUncertainty(sums.sumKld, sums.sumKld2, n);
  const pMean = meanAndUncertainty(sums.sumPDiff, sums.sumPDiff2, n);
  const kSorted = Float32Array.from(kldValues).sort();
  const pSorted = Float32Array.from(pDiffValues).sort();
  const kDist = distribution(kSorted);
  return {
    nCtx,
    nChunk,
    tokensScored: n,
    enoughTokens: n >= 100,
    pplQ: { value: pplQ, stderr: pplQUnc },
    pplBase: { value: pplB, stderr: pplBUnc },
    lnPplCorrelation: cov / (logPpl.stderr * logPplBase.stderr),
    lnPplRatio: { value: lnRatio, stderr: lnRatioUnc },
    pplRatio: { value: ratio, stderr: ratio * lnRatioUnc },
    pplDiff: { value: pplQ - pplB, stderr: Math.sqrt(pplQUnc ** 2 + pplBUnc ** 2 - 2 * pplQ * pplB * cov) },
    kldMean: { value: kMean.mean, stderr: kMean.stderr },
    kld: kDist,
    deltaPMean: { value: pMean.mean, stderr: pMean.stderr },
    deltaP: distribution(pSorted),
    rmsDeltaP: { value: rms, stderr: rms > 0 ? (0.5 / rms) * pDiffMse.stderr : 0 },
    sameTopP: { value: sameTop, stderr: proportionStderr(sameTop, n) },
    kldHistogram: histogram(kSorted, 40, 0, Math.max(kDist.p99_9, 1e-6)),
  };
}

/** Runs `model` over the chunks stored in `basePath` and compares with the stored base log-probs. */
export async function klDivergence(model: EvalModel, basePath: string, opts: KldOptions = {}): Promise<KldResult> {
  const reader = KldFileReader.open(basePath);
  try {
    const { nCtx, nVocab, tokens } = reader.header;
    if (nVocab !== model.vocabSize) {
      throw new InputError("KLD_VOCAB_MISMATCH", `base logits have n_vocab=${nVocab} but ${model.name} has ${model.vocabSize}`, {
        file: basePath,
        details: { baseVocab: nVocab, modelVocab: model.vocabSize },
      });
    }
    const nChunk = opts.chunks && opts.chunks > 0 ? Math.min(opts.chunks, reader.header.nChunk) : reader.header.nChunk;
    const first = Math.floor(nCtx / 2);
    const perChunk = kldRowsPerChunk(nCtx);
    const nv = kldRowWords(nVocab);
    const rows = new Uint16Array(perChunk * nv);
    const sums = new KldSums();
    const kldValues = new Float32Array(perChunk * nChunk);
    const pDiffValues = new Float32Array(perChunk * nChunk);
    for (let i = 0; i < nChunk; i++) {
      const logits = await model.logits(chunkInput(tokens, i, nCtx, model.bosId));
      if (logits.length !== nCtx * nVocab) throw new Error(`${model.name}: logits() returned ${logits.length} values for ${nCtx} × ${nVocab}`);
      reader.readChunk(i, rows);
      for (let j = 0; j < perChunk; j++) {
        const pos = first + j;
        const r = accumulateKldToken(logits, pos * nVocab, nVocab, rows, j * nv, tokens[i * nCtx + pos + 1], sums);
        kldValues[i * perChunk + j] = r.kld;
        pDiffValues[i * perChunk + j] = r.pDiff;
      }
      opts.onProgress?.(i + 1, nChunk);
    }
    return summarizeKld(sums, kldValues, pDiffValues, nCtx, nChunk);
  } finally {
    reader.close();
  }
}

/** printf("%W.Pf") */
const f = (v: number, width: number, prec: number) => v.toFixed(prec).padStart(width);

/** The final statistics block exactly as llama-perplexity prints it (same printf widths), for logs and summaries. */
export function formatKld(r: KldResult): string {
  const f6 = (v: number) => f(v, 10, 6);
  const dp = (v: number) => `${f(100 * v, 6, 3)}%`;
  const lines = [
    "====== Perplexity statistics ======",
    `Mean PPL(Q)                   : ${f6(r.pplQ.value)} ± ${f6(r.pplQ.stderr)}`,
    `Mean PPL(base)                : ${f6(r.pplBase.value)} ± ${f6(r.pplBase.stderr)}`,
    `Cor(ln(PPL(Q)), ln(PPL(base))): ${f(100 * r.lnPplCorrelation, 6, 2)}%`,
    `Mean ln(PPL(Q)/PPL(base))     : ${f6(r.lnPplRatio.value)} ± ${f6(r.lnPplRatio.stderr)}`,
    `Mean PPL(Q)/PPL(base)         : ${f6(r.pplRatio.value)} ± ${f6(r.pplRatio.stderr)}`,
    `Mean PPL(Q)-PPL(base)         : ${f6(r.pplDiff.value)} ± ${f6(r.pplDiff.stderr)}`,
    "",
    "====== KL divergence statistics ======",
    `Mean    KLD: ${f6(r.kldMean.value)} ± ${f6(r.kldMean.stderr)}`,
    `Maximum KLD: ${f6(r.kld.max)}`,
    `99.9%   KLD: ${f6(r.kld.p99_9)}`,
    `99.0%   KLD: ${f6(r.kld.p99)}`,
    `95.0%   KLD: ${f6(r.kld.p95)}`,
    `90.0%   KLD: ${f6(r.kld.p90)}`,
    `Median  KLD: ${f6(r.kld.median)}`,
    `10.0%   KLD: ${f6(r.kld.p10)}`,
    ` 5.0%   KLD: ${f6(r.kld.p5)}`,
    ` 1.0%   KLD: ${f6(r.kld.p1)}`,
    ` 0.1%   KLD: ${f6(r.kld.p0_1)}`,
    `Minimum KLD: ${f6(r.kld.min)}`,
    "",
    "====== Token probability statistics ======",
    `Mean    Δp: ${f(100 * r.deltaPMean.value, 6, 3)} ± ${f(100 * r.deltaPMean.stderr, 5, 3)} %`,
    `Maximum Δp: ${dp(r.deltaP.max)}`,
    `99.9%   Δp: ${dp(r.deltaP.p99_9)}`,
    `99.0%   Δp: ${dp(r.deltaP.p99)}`,
    `95.0%   Δp: ${dp(r.deltaP.p95)}`,
    `90.0%   Δp: ${dp(r.deltaP.p90)}`,
    `75.0%   Δp: ${dp(r.deltaP.p75)}`,
    `Median  Δp: ${dp(r.deltaP.median)}`,
    `25.0%   Δp: ${dp(r.deltaP.p25)}`,
    `10.0%   Δp: ${dp(r.deltaP.p10)}`,
    ` 5.0%   Δp: ${dp(r.deltaP.p5)}`,
    ` 1.0%   Δp: ${dp(r.deltaP.p1)}`,
    ` 0.1%   Δp: ${dp(r.deltaP.p0_1)}`,
    `Minimum Δp: ${dp(r.deltaP.min)}`,
    `RMS Δp    : ${f(100 * r.rmsDeltaP.value, 6, 3)} ± ${f(100 * r.rmsDeltaP.stderr, 5, 3)} %`,
    `Same top p: ${f(100 * r.sameTopP.value, 6, 3)} ± ${f(100 * r.sameTopP.stderr, 5, 3)} %`,
  ];
  return lines.join("\n");
}
