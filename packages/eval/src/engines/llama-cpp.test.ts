import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "@moeq/formats";
import type { EvalModel } from "../model.js";
import { tinyVocab, writeTinyLlamaGguf } from "@moeq/test-support/tiny-gguf";
import { fakeCorpus } from "@moeq/test-support/fake-model";
import { perplexity } from "../metrics/perplexity.js";
import { klDivergence } from "../metrics/kld.js";
import { openEvalModel } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "moeq-llamacpp-"));
const basePath = join(dir, "tiny-base.gguf");
const noisyPath = join(dir, "tiny-noisy.gguf");
let base: EvalModel;

beforeAll(async () => {
  writeTinyLlamaGguf(basePath, { seed: 3 });
  writeTinyLlamaGguf(noisyPath, { seed: 3, noise: 0.3 });
  base = await openEvalModel(basePath, { engine: "llama.cpp", threads: 2 });
});
afterAll(async () => base?.close());

function logSumExp(row: Float32Array): number {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  return m + Math.log(s);
}

describe("llama.cpp engine (node-llama-cpp)", () => {
  it("reports vocabulary, BOS and training context from the GGUF", () => {
    expect(base.vocabSize).toBe(tinyVocab().tokens.length);
    expect(base.bosId).toBe(1);
    expect(base.nCtxTrain).toBe(512);
    const ids = base.tokenize("the cat", { addBos: true });
    expect(ids[0]).toBe(1);
    expect(base.detokenize(ids.slice(1)).trim()).toBe("the cat");
  });

  it("returns normalised log-probs for every position, deterministically across fresh contexts", async () => {
    const toks = base.tokenize("the cat sat on the mat", { addBos: true });
    const a = await base.logits(toks);
    expect(a.length).toBe(toks.length * base.vocabSize);
    for (let p = 0; p < toks.length; p++) expect(logSumExp(a.subarray(p * base.vocabSize, (p + 1) * base.vocabSize))).toBeCloseTo(0, 4);
    // a longer call in between must not leak state into the next one (fresh context per call)
    await base.logits(base.tokenize(fakeCorpus(120), { addBos: true }));
    const b = await base.logits(toks);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it("runs llama-perplexity and KLD end to end: identical model ≈ 0, perturbed weights > 0", async () => {
    const text = fakeCorpus(3000);
    const kldPath = join(dir, "base.kld");
    const ppl = await perplexity(base, text, { ctx: 64, chunks: 4, saveKldBase: kldPath });
    expect(ppl.nChunk).toBe(4);
    expect(ppl.ppl).toBeGreaterThan(1);
    expect(ppl.ppl).toBeLessThan(base.vocabSize * 2); // a random model is about as unsure as uniform
    const self = await klDivergence(base, kldPath);
    expect(Math.abs(self.kldMean.value)).toBeLessThan(1e-3);
    expect(self.sameTopP.value).toBeGreaterThan(0.99);
    expect(self.pplBase.value / ppl.ppl).toBeCloseTo(1, 3);
    const noisy = await openEvalModel(noisyPath, { engine: "llama.cpp", threads: 2 });
    try {
      const q = await klDivergence(noisy, kldPath);
      expect(q.kldMean.value).toBeGreaterThan(10 * Math.abs(self.kldMean.value));
      expect(q.sameTopP.value).toBeLessThan(self.sameTopP.value);
    } finally {
      await noisy.close();
    }
  });

  it("refuses non-GGUF paths and images with InputError", async () => {
    await expect(openEvalModel(join(dir, "nope.gguf"), { engine: "llama.cpp" })).rejects.toThrow(InputError);
    await expect(openEvalModel(dir, { engine: "llama.cpp" })).rejects.toThrow(/GGUF/);
    await expect(base.generate("x", { image: Uint8Array.of(1), maxTokens: 2 })).rejects.toThrow(/--engine moeq/);
  });

  it("generates greedily up to maxTokens", async () => {
    const out = await base.generate("the cat", { maxTokens: 5 });
    expect(out.length).toBeGreaterThan(0);
    expect(await base.generate("the cat", { maxTokens: 5 })).toBe(out);
  });
});
