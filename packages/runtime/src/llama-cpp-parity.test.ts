// The runtime against llama.cpp itself (node-llama-cpp 3.21.1, CPU) on GGUFs of the tiny fixture made by our
// converter: next-token distributions over Brown test chunks (mean KL, top-1 agreement) and tokenization.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { convertHfToGguf, LlamaFType } from "@moeq/convert";
import { loadModel, type Llama4Model } from "./model.js";
import { FIXTURE_DIR } from "./test-utils/random-checkpoint.js";
import { loadLlamaCppModel, llamaCppNextTokenProbs, llamaCppTokenize } from "../../../test-support/llama-run.js";

const TEST_SPLIT = join(FIXTURE_DIR, "..", "data", "brown-test.txt");
const CHUNK = 256;
const N_CHUNKS = 3;
const FILE_TYPES = [
  ["F16", LlamaFType.MOSTLY_F16],
  ["Q8_0", LlamaFType.MOSTLY_Q8_0],
  ["Q4_K_M", LlamaFType.MOSTLY_Q4_K_M],
  ["Q2_K", LlamaFType.MOSTLY_Q2_K],
] as const;

let dir: string;
const ggufs = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "moeq-parity-"));
  for (const [name, ftype] of FILE_TYPES) {
    const out = join(dir, `tiny-llama4-${name}.gguf`);
    await convertHfToGguf(FIXTURE_DIR, out, { outtype: ftype, threads: 2 });
    ggufs.set(name, out);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** log-softmax of one logits row, in f64. */
function logSoftmax(x: Float32Array, off: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[off + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(x[off + i] - max);
  const lse = Math.log(sum) + max;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = x[off + i] - lse;
  return out;
}

/** Chunks as llama-perplexity forms them: CHUNK tokens of the test split, the first replaced by BOS. */
function chunks(m: Llama4Model): number[][] {
  const ids = m.tokenize(readFileSync(TEST_SPLIT, "utf8"), { parseSpecial: false });
  const out: number[][] = [];
  for (let c = 0; c < N_CHUNKS; c++) {
    const chunk = ids.slice(c * CHUNK, (c + 1) * CHUNK);
    chunk[0] = m.bosId!;
    out.push(chunk);
  }
  return out;
}

describe("next-token distributions vs llama.cpp on the same GGUF", () => {
  for (const [name] of FILE_TYPES) {
    it(`${name}: mean KL ≤ 1e-4 and top-1 agreement ≥ 99.5 % over ${N_CHUNKS}×${CHUNK} Brown test tokens`, async () => {
      const path = ggufs.get(name)!;
      const ours = await loadModel(path);
      const theirs = await loadLlamaCppModel(path);
      const V = ours.vocabSize;
      let kl = 0;
      let same = 0;
      let n = 0;
      for (const chunk of chunks(ours)) {
        const logits = await ours.logits(chunk);
        const ref = await llamaCppNextTokenProbs(theirs, chunk, V);
        for (let t = 0; t < chunk.length; t++) {
          const lq = logSoftmax(logits, t * V, V);
          const p = ref[t];
          let k = 0;
          let am = 0;
          let bm = 0;
          for (let i = 0; i < V; i++) {
            if (p[i] > 0) k += p[i] * (Math.log(p[i]) - lq[i]);
            if (p[i] > p[am]) am = i;
            if (lq[i] > lq[bm]) bm = i;
          }
          kl += k;
          if (am === bm) same++;
          n++;
        }
      }
      await theirs.dispose();
      await ours.close();
      const meanKl = kl / n;
      const top1 = same / n;
      console.log(`${name}: mean KL ${meanKl.toExponential(3)}, top-1 agreement ${(100 * top1).toFixed(2)} % over ${n} positions`);
      expect(meanKl).toBeLessThanOrEqual(1e-4);
      expect(top1).toBeGreaterThanOrEqual(0.995);
    });
  }
});

describe("tokenization vs llama.cpp", () => {
  let ours: Llama4Model;
  let fromGguf: Llama4Model;
  let theirs: LlamaModel;
  beforeAll(async () => {
    ours = await loadModel(FIXTURE_DIR);
    fromGguf = await loadModel(ggufs.get("F16")!);
    theirs = await loadLlamaCppModel(ggufs.get("F16")!);
  });
  afterAll(async () => {
    await theirs.dispose();
    await ours.close();
    await fromGguf.close();
  });

  it("matches on the whole Brown test split, from tokenizer.json and from the GGUF vocab", () => {
    const text = readFileSync(TEST_SPLIT, "utf8");
    const ref = llamaCppTokenize(theirs, text, false);
    expect(ref.length).toBeGreaterThan(10_000);
    expect(ours.tokenize(text, { parseSpecial: false })).toEqual(ref);
    expect(fromGguf.tokenize(text, { parseSpecial: false })).toEqual(ref);
  });

  const tricky = [
    "Hello  world\n\n\tfoo   bar",
    "12345678 3.14159 1,000,000 2024-11-29",
    "naïve café 日本語 Ελληνικά 😀🎉 emoji",
    "   leading and trailing   ",
    "don't I'LL we've THEY'RE",
    "a\r\nb\rc\n\n\n",
    "\u00a0nbsp\u2003em\u200bzero-width",
    "<|begin_of_text|>x<|eot|>y<|header_start|>user<|header_end|>",
    "<|image|><|patch|><|patch|>",
  ];
  for (const s of tricky) {
    it(`matches on ${JSON.stringify(s)} with and without special-token parsing`, () => {
      for (const special of [false, true]) {
        const ref = llamaCppTokenize(theirs, s, special);
        expect(ours.tokenize(s, { parseSpecial: special })).toEqual(ref);
        expect(fromGguf.tokenize(s, { parseSpecial: special })).toEqual(ref);
      }
    });
  }

  it("agrees on BOS and round-trips text through detokenize", () => {
    expect(ours.bosId).toBe(theirs.tokens.bos);
    expect(fromGguf.bosId).toBe(theirs.tokens.bos);
    const s = "The jury said it did find that many of Georgia's registration laws are outmoded.";
    expect(ours.detokenize(ours.tokenize(s))).toBe(s);
  });
});
