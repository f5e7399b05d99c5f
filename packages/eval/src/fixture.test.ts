// The fixture's own reference numbers (fixtures/tiny-llama4/reference/reference.json, computed in f32 by the
// fixture's PyTorch reference) reproduced by our metrics on the bundled runtime: llama-perplexity's PPL,
// lm-eval's MMLU accuracy, lmms-eval's DocVQA generations.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalModel } from "./model.js";
import { openEvalModel } from "./engines/index.js";
import { loadReferenceFile } from "./references.js";
import { perplexity } from "./metrics/perplexity.js";
import { runMmluTask } from "./tasks.js";
import { evaluateDocVqa, loadDocVqaItems } from "./datasets/docvqa.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fx = `${root}fixtures/tiny-llama4`;
const data = `${root}fixtures/data`;
const raw = JSON.parse(readFileSync(`${fx}/reference/reference.json`, "utf8")) as {
  perplexity: { n_ctx: number; n_tokens: number; chunks: number; scored_tokens: number; ppl: number; ppl_plus_minus: number };
  mmlu_mini: { shots: number; per_subject: Record<string, number> };
  docvqa_mini: { max_new_tokens: number; first_predictions: { questionId: string; prediction: string }[] };
};
let model: EvalModel;

beforeAll(async () => {
  model = await openEvalModel(fx, { engine: "moeq" });
});
afterAll(async () => model?.close());

describe("tiny-llama4 fixture: reference numbers reproduced (moeq runtime)", () => {
  it("the shipped reference file reads the fixture's numbers at runtime", () => {
    const ref = loadReferenceFile("tiny-llama4");
    expect(ref.metrics["perplexity.ppl"].value).toBe(raw.perplexity.ppl);
    expect(ref.metrics["perplexity.ppl"].source).toMatch(/reference\.json$/);
  });

  it("llama-perplexity PPL over brown-test.txt matches reference.json", async () => {
    const p = raw.perplexity;
    const r = await perplexity(model, readFileSync(`${data}/brown-test.txt`, "utf8"), { ctx: p.n_ctx });
    expect(r.nTokens).toBe(p.n_tokens);
    expect(r.nChunk).toBe(p.chunks);
    expect(r.tokensScored).toBe(p.scored_tokens);
    expect(Math.abs(r.ppl / p.ppl - 1)).toBeLessThan(1e-6);
    expect(Math.abs(r.pplStderr / p.ppl_plus_minus - 1)).toBeLessThan(1e-4);
  }, 180_000);

  it("lm-eval MMLU accuracy of one subject matches reference.json (same shots)", async () => {
    const subject = "learned";
    const r = await runMmluTask(model, { data: `${data}/mmlu-mini/test.parquet`, k: raw.mmlu_mini.shots, subjects: [subject] });
    expect(r.acc).toBe(raw.mmlu_mini.per_subject[subject]);
  }, 60_000);

  it("DocVQA greedy answers match the reference's first predictions", async () => {
    const items = (await loadDocVqaItems(`${data}/docvqa-mini/validation.parquet`)).slice(0, 3);
    const r = await evaluateDocVqa(model, items, { maxTokens: raw.docvqa_mini.max_new_tokens });
    expect(r.items.map((i) => [i.questionId, i.prediction])).toEqual(raw.docvqa_mini.first_predictions.slice(0, 3).map((p) => [p.questionId, p.prediction]));
  }, 60_000);
});
