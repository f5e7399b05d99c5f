// Tiny deterministic in-memory models for tests: character-level tokenizer, logits from a seeded
// bigram table plus a position term, so different "quantizations" (noise levels) give different
// but reproducible distributions.
import { seededRandom } from "@moeq/formats";
import type { EvalModel } from "@moeq/eval";

export interface FakeModelOptions {
  name?: string;
  /** Characters the tokenizer knows; id = 2 + index (0 = BOS, 1 = EOS). */
  alphabet?: string;
  seed?: number;
  /** Gaussian-ish noise added to the bigram table, to play a quantized copy. */
  noise?: number;
  noiseSeed?: number;
  withBos?: boolean;
  /** Fixed answers for generate(): prompt substring → reply. */
  replies?: Record<string, string>;
}

export interface FakeModel extends EvalModel {
  /** Every logits() input, to check BOS handling. */
  readonly calls: number[][];
}

export function fakeModel(opts: FakeModelOptions = {}): FakeModel {
  const alphabet = opts.alphabet ?? " abcdefghijklmnopqrstuvwxyz.,ABCD:\n";
  const nVocab = alphabet.length + 2;
  const rnd = seededRandom(opts.seed ?? 1);
  const table = new Float32Array(nVocab * nVocab);
  for (let i = 0; i < table.length; i++) table[i] = 4 * (rnd() - 0.5);
  if (opts.noise) {
    const nr = seededRandom(opts.noiseSeed ?? 99);
    for (let i = 0; i < table.length; i++) table[i] += opts.noise * (nr() + nr() + nr() - 1.5);
  }
  const bosId = opts.withBos === false ? null : 0;
  const calls: number[][] = [];
  return {
    name: opts.name ?? "fake",
    vocabSize: nVocab,
    nCtxTrain: 4096,
    bosId,
    calls,
    tokenize(text, o) {
      const ids: number[] = [];
      if (o?.addBos && bosId !== null) ids.push(bosId);
      for (const ch of text) {
        const k = alphabet.indexOf(ch);
        if (k >= 0) ids.push(k + 2);
      }
      return ids;
    },
    detokenize(ids) {
      return ids.map((id) => (id >= 2 ? alphabet[id - 2] : "")).join("");
    },
    async logits(tokens) {
      calls.push(tokens.slice());
      const out = new Float32Array(tokens.length * nVocab);
      for (let p = 0; p < tokens.length; p++) {
        for (let v = 0; v < nVocab; v++) out[p * nVocab + v] = table[tokens[p] * nVocab + v] + 0.01 * ((p * 7 + v) % 5);
      }
      return out;
    },
    async generate(prompt) {
      for (const [k, v] of Object.entries(opts.replies ?? {})) if (prompt.includes(k)) return v;
      return "";
    },
    async close() {},
  };
}

/** A corpus over the fake alphabet, deterministic. */
export function fakeCorpus(nChars: number, seed = 7): string {
  const words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "today"];
  const rnd = seededRandom(seed);
  let s = "";
  while (s.length < nChars) s += words[Math.floor(rnd() * words.length)] + (rnd() < 0.1 ? ". " : " ");
  return s.slice(0, nChars);
}
