// Per-token log-softmax kernels of llama.cpp's tools/perplexity/perplexity.cpp, ported with the same
// float/double mix (max and exp in float, the sum of exps in double) so results agree to the last digits.
// All take a row-major logits matrix plus the row's offset, and never allocate.
const f32 = Math.fround;

/** Largest logit of a row and the double-precision Σ expf(l − max), as every kernel below needs. */
function maxAndSumExp(logits: Float32Array, off: number, nVocab: number): { max: number; imax: number; sumExp: number } {
  let max = logits[off];
  let imax = 0;
  for (let i = 1; i < nVocab; i++) {
    const v = logits[off + i];
    if (v > max) {
      max = v;
      imax = i;
    }
  }
  let sumExp = 0;
  for (let i = 0; i < nVocab; i++) sumExp += f32(Math.exp(f32(logits[off + i] - max)));
  return { max, imax, sumExp };
}

/** NLL of `target` as llama-perplexity's plain PPL mode computes it (matches its `log_softmax(n_vocab, logits, tok)`). */
export function tokenNll(logits: Float32Array, off: number, nVocab: number, target: number): number {
  const { max, sumExp } = maxAndSumExp(logits, off, nVocab);
  return -(f32(logits[off + target] - max) - Math.log(sumExp));
}

/** uint16 words per stored row of a `.kld` file: two float32 (scale, min log-prob) + n_vocab codes, padded to even. */
export function kldRowWords(nVocab: number): number {
  return 2 * Math.floor((nVocab + 1) / 2) + 4;
}

/** matches ggml's nearest_int: adds 1.5·2^23 in float, so ties round to even. Valid for |x| < 2^22. */
function nearestInt(x: number): number {
  return f32(x + 12582912) - 12582912;
}

/**
 * Encodes one row of log-probs into llama.cpp's 16-bit `.kld` row (matches perplexity.cpp's
 * `log_softmax(n_vocab, logits, log_prob, tok)`): log-probs below (max − 16) are clamped to the floor.
 * `row` is a Uint16Array view whose words [rowOff, rowOff + kldRowWords) receive the row.
 * Returns the NLL of `target` the way that function does (float arithmetic).
 */
export function encodeLogProbRow(logits: Float32Array, off: number, nVocab: number, target: number, row: Uint16Array, rowOff: number): number {
  let max = logits[off];
  let min = logits[off];
  for (let i = 1; i < nVocab; i++) {
    const v = logits[off + i];
    if (v > max) max = v;
    if (v < min) min = v;
  }
  min = Math.max(min, f32(max - 16));
  let sumExp = 0;
  for (let i = 0; i < nVocab; i++) sumExp += f32(Math.exp(f32(logits[off + i] - max)));
  const logSumExp = f32(Math.log(sumExp));
  const minLogProb = f32(f32(min - max) - logSumExp);
  const scale = f32(f32(max - min) / 65535);
  const head = new Float32Array(row.buffer, row.byteOffset + rowOff * 2, 2);
  head[0] = scale;
  head[1] = minLogProb;
  const q0 = rowOff + 4;
  if (scale) {
    const invScale = f32(1 / scale);
    for (let i = 0; i < nVocab; i++) {
      const v = logits[off + i];
      row[q0 + i] = v > min ? nearestInt(f32(invScale * f32(v - min))) : 0;
    }
  } else {
    row.fill(0, q0, q0 + nVocab);
  }
  if (nVocab % 2 === 1) row[q0 + nVocab] = 0;
  return f32(f32(max + logSumExp) - logits[off + target]);
}

/** Decoded base log-prob of entry `i` of a `.kld` row: scale·q + min_log_prob, in float. */
export function decodeLogProb(row: Uint16Array, rowOff: number, i: number): number {
  const head = new Float32Array(row.buffer, row.byteOffset + rowOff * 2, 2);
  return f32(f32(head[0] * row[rowOff + 4 + i]) + head[1]);
}

/** Running sums of llama-perplexity's `kl_divergence_result`. */
export class KldSums {
  sumNll = 0;
  sumNll2 = 0;
  sumNllBase = 0;
  sumNllBase2 = 0;
  sumNllNllBase = 0;
  sumKld = 0;
  sumKld2 = 0;
  sumPDiff = 0;
  sumPDiff2 = 0;
  sumPDiff4 = 0;
  maxPDiff = 0;
  nSameTop = 0;
  count = 0;
}

/**
 * One scored token of llama-perplexity `--kl-divergence` (matches its
 * `log_softmax(n_vocab, logits, base_log_prob, tok, kld)`): KL(base‖Q) over the entries whose base
 * log-prob is above −16, top-1 agreement, and Δp of the correct token. Adds into `sums`; returns the
 * token's KLD and Δp as floats (the values llama.cpp sorts for its percentiles).
 */
export function accumulateKldToken(
  logits: Float32Array,
  off: number,
  nVocab: number,
  base: Uint16Array,
  baseOff: number,
  target: number,
  sums: KldSums,
): { kld: number; pDiff: number } {
  const { max, imax, sumExp } = maxAndSumExp(logits, off, nVocab);
  const logSumExp = f32(Math.log(sumExp));
  const head = new Float32Array(base.buffer, base.byteOffset + baseOff * 2, 2);
  const scale = head[0];
  const minLogProb = head[1];
  const q0 = baseOff + 4;

  const nll = f32(f32(max + logSumExp) - logits[off + target]);
  sums.sumNll += nll;
  sums.sumNll2 += f32(nll * nll);
  const nllBase = -f32(f32(scale * base[q0 + target]) + minLogProb);
  sums.sumNllBase += nllBase;
  sums.sumNllBase2 += f32(nllBase * nllBase);
  sums.sumNllNllBase += f32(nll * nllBase);

  const maxPlusLse = f32(max + logSumExp);
  let sum = 0;
  let imaxBase = -1;
  let pLogBaseMax = 0;
  for (let i = 0; i < nVocab; i++) {
    const pLogBase = f32(f32(scale * base[q0 + i]) + minLogProb);
    if (i === 0 || pLogBase > pLogBaseMax) {
      pLogBaseMax = pLogBase;
      imaxBase = i;
    }
    if (pLogBase > -16) {
      const pBase = f32(Math.exp(pLogBase));
      sum += f32(pBase * f32(f32(pLogBase - logits[off + i]) + maxPlusLse));
    }
  }
  sums.sumKld += sum;
  sums.sumKld2 += sum * sum;
  sums.count++;
  if (imax === imaxBase) sums.nSameTop++;

  const pBase = f32(Math.exp(-nllBase));
  const p = f32(Math.exp(-nll));
  const pDiff = f32(p - pBase);
  sums.sumPDiff += pDiff;
  const pDiff2 = f32(pDiff * pDiff);
  sums.sumPDiff2 += pDiff2;
  sums.sumPDiff4 += pDiff2 * pDiff2;
  sums.maxPDiff = Math.max(sums.maxPDiff, Math.abs(pDiff));
  return { kld: f32(sum), pDiff };
}
