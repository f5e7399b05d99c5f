import { describe, expect, it } from "vitest";
import { InputError } from "@moeq/formats";
import { fakeCorpus, fakeModel } from "@moeq/test-support/fake-model";
import { chunkInput, perplexity, perplexityOfTokens, planChunks, tokenizeCorpus } from "./perplexity.js";
import { tokenNll } from "./log-softmax.js";
import { medianSorted, percentileSorted } from "./stats.js";

/** Straightforward double-precision llama-perplexity, written from the README description, as an oracle. */
async function naivePpl(model: ReturnType<typeof fakeModel>, text: string, nCtx: number, chunks?: number) {
  const toks = tokenizeCorpus(model, text);
  const nChunk = Math.min(chunks ?? Infinity, Math.floor(toks.length / nCtx));
  const V = model.vocabSize;
  const nlls: number[] = [];
  for (let c = 0; c < nChunk; c++) {
    const inp = toks.slice(c * nCtx, (c + 1) * nCtx);
    if (model.bosId !== null) inp[0] = model.bosId;
    const lg = await model.logits(inp);
    for (let j = nCtx / 2; j < nCtx - 1; j++) {
      const row = Array.from(lg.subarray(j * V, (j + 1) * V));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
      nlls.push(lse - row[toks[c * nCtx + j + 1]]);
    }
  }
  const mean = nlls.reduce((a, b) => a + b, 0) / nlls.length;
  const var_ = nlls.reduce((a, b) => a + (b - mean) ** 2, 0) / nlls.length;
  return { ppl: Math.exp(mean), stderr: Math.exp(mean) * Math.sqrt(var_ / (nlls.length - 1)), n: nlls.length };
}

describe("tokenNll", () => {
  it("is log Σ exp(l) − l[target] (hand-computed for logits 1,2,3)", () => {
    const l = Float32Array.of(1, 2, 3);
    expect(tokenNll(l, 0, 3, 2)).toBeCloseTo(Math.log(1 + Math.exp(-1) + Math.exp(-2)), 6);
    expect(tokenNll(l, 0, 3, 0)).toBeCloseTo(2 + Math.log(1 + Math.exp(-1) + Math.exp(-2)), 6);
  });
  it("reads the row at the given offset", () => {
    const l = Float32Array.of(9, 9, 0, 0, 0, 0);
    expect(tokenNll(l, 2, 4, 1)).toBeCloseTo(Math.log(4), 6);
  });
});

describe("llama-perplexity chunking", () => {
  it("overwrites (not inserts) the first token of every chunk with BOS", () => {
    expect(chunkInput([5, 6, 7, 8, 9, 10, 11, 12], 1, 4, 0)).toEqual([0, 10, 11, 12]);
    expect(chunkInput([5, 6, 7, 8, 9, 10, 11, 12], 1, 4, null)).toEqual([9, 10, 11, 12]);
  });
  it("needs 2·ctx tokens, drops the remainder and caps with --chunks", () => {
    expect(() => planChunks(15, 8, undefined, "wiki.txt")).toThrow(InputError);
    expect(() => planChunks(15, 8, undefined, "wiki.txt")).toThrow(/wiki\.txt.*15 tokens.*16/);
    expect(planChunks(35, 8, undefined)).toBe(4);
    expect(planChunks(35, 8, 2)).toBe(2);
    expect(planChunks(35, 8, 99)).toBe(4);
  });
});

describe("perplexity", () => {
  it("is exactly the vocabulary size for a model with uniform logits (hand-computed)", async () => {
    const V = 10;
    const model = { ...fakeModel(), vocabSize: V, logits: async (t: number[]) => new Float32Array(t.length * V) };
    const r = await perplexityOfTokens(
      model,
      Array.from({ length: 40 }, (_, i) => i % V),
      { ctx: 8 },
    );
    expect(r.nChunk).toBe(5);
    expect(r.tokensScored).toBe(5 * 3); // 8 − 1 − 4 = 3 per chunk
    expect(r.ppl).toBeCloseTo(V, 5);
    expect(r.pplStderr).toBe(0);
  });

  it("scores positions ctx/2 … ctx−2 against the next token (hand-computed one-hot model)", async () => {
    // The model puts logit 5 on token (input+1) mod V; the corpus counts upward, so every scored
    // prediction is right except where BOS (id 0) was written over the chunk's first token — which is
    // never scored because scoring starts at ctx/2.
    const V = 6;
    const model = {
      ...fakeModel(),
      vocabSize: V,
      logits: async (t: number[]) => {
        const out = new Float32Array(t.length * V);
        t.forEach((tok, p) => (out[p * V + ((tok + 1) % V)] = 5));
        return out;
      },
    };
    const r = await perplexityOfTokens(
      model,
      Array.from({ length: 24 }, (_, i) => i % V),
      { ctx: 6 },
    );
    const nll = Math.log(Math.exp(5) + (V - 1)) - 5;
    expect(r.meanNll).toBeCloseTo(nll, 6);
    expect(r.tokensScored).toBe(4 * 2);
  });

  it("matches a straightforward double-precision reimplementation on a fake model", async () => {
    const model = fakeModel({ seed: 3 });
    const text = fakeCorpus(2000);
    const ours = await perplexity(model, text, { ctx: 64, chunks: 10 });
    const ref = await naivePpl(model, text, 64, 10);
    expect(ours.tokensScored).toBe(ref.n);
    expect(Math.abs(ours.ppl / ref.ppl - 1)).toBeLessThan(1e-6);
    expect(Math.abs(ours.pplStderr / ref.stderr - 1)).toBeLessThan(1e-4);
    expect(ours.chunkPpl).toHaveLength(10);
    expect(ours.chunkPpl[9]).toBeCloseTo(ours.ppl, 10);
  });

  it("feeds BOS-overwritten chunks to the model", async () => {
    const model = fakeModel();
    await perplexity(model, fakeCorpus(300), { ctx: 32, chunks: 3 });
    expect(model.calls).toHaveLength(3);
    for (const c of model.calls) {
      expect(c).toHaveLength(32);
      expect(c[0]).toBe(0);
    }
    const noBos = fakeModel({ withBos: false });
    await perplexity(noBos, fakeCorpus(300), { ctx: 32, chunks: 1 });
    expect(noBos.calls[0][0]).not.toBe(0);
  });
});

describe("percentiles as llama-perplexity computes them", () => {
  it("interpolates linearly at fraction·(n−1) and averages the middle pair for the median", () => {
    const v = Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    expect(percentileSorted(v, 0.5)).toBeCloseTo(4.5, 6);
    expect(percentileSorted(v, 0.9)).toBeCloseTo(8.1, 5);
    expect(percentileSorted(v, 0)).toBe(0);
    expect(percentileSorted(v, 1)).toBe(9);
    expect(medianSorted(v)).toBe(4.5);
    expect(medianSorted(Float32Array.of(1, 2, 7))).toBe(2);
  });
});
