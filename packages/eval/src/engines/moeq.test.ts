import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import type { EvalModel } from "../model.js";
import { perplexity } from "../metrics/perplexity.js";
import { klDivergence } from "../metrics/kld.js";
import { evaluateMmlu } from "../datasets/mmlu.js";
import { openEvalModel } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "moeq-engine-"));
let model: EvalModel;

beforeAll(async () => {
  writeSyntheticLlama4(join(dir, "ckpt"), { layout: "scout", multimodal: false, hidden: 64, ffExpert: 32, ffDense: 64, layers: 2, experts: 4, seed: 5 });
  model = await openEvalModel(join(dir, "ckpt"), { engine: "moeq" });
});
afterAll(async () => model?.close());

describe("moeq engine (@moeq/runtime loadModel)", () => {
  it("exposes the runtime's vocabulary, BOS and logits through EvalModel", async () => {
    expect(model.vocabSize).toBe(3200);
    expect(model.bosId).not.toBeNull();
    const ids = model.tokenize("the cat sat", { addBos: true });
    expect(ids[0]).toBe(model.bosId);
    const lg = await model.logits(ids);
    expect(lg.length).toBe(ids.length * model.vocabSize);
    expect(lg.every(Number.isFinite)).toBe(true);
  });

  it("runs perplexity, the .kld round trip (self-KLD ≈ 0) and MMLU scoring", async () => {
    const text = "the cat sat on the mat and the dog ran far away today. ".repeat(12);
    const kld = join(dir, "self.kld");
    const ppl = await perplexity(model, text, { ctx: 32, chunks: 3, saveKldBase: kld });
    expect(ppl.nChunk).toBe(3);
    expect(ppl.ppl).toBeGreaterThan(1);
    const self = await klDivergence(model, kld);
    expect(Math.abs(self.kldMean.value)).toBeLessThan(1e-4);
    expect(self.sameTopP.value).toBe(1);
    const r = await evaluateMmlu(model, [{ question: "Which?", subject: "misc", choices: ["a", "b", "c", "d"], answer: 1 }], { k: 0 });
    expect(r.items[0].logliks).toHaveLength(4);
    expect(r.items[0].logliks.every((x) => x < 0)).toBe(true);
  });
});
