import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { moeq } from "../test-utils/run-moeq.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));
const prompts = (
  JSON.parse(readFileSync(join(fixture, "reference", "prompts.json"), "utf8")) as {
    prompts: { name: string; text: string; input_ids: number[]; greedy_next_token: number; expanded_text?: string }[];
  }
).prompts;

describe("moeq run", () => {
  it("streams a Brown-like continuation of 'The jury'", async () => {
    const r = await moeq("run", fixture, "-p", "The jury", "-n", "24");
    expect(r.code).toBe(0);
    const text = r.out.trim();
    expect(text.length).toBeGreaterThan(20);
    // English prose: mostly letters and spaces, several words
    const letters = text.replace(/[^A-Za-z ]/g, "").length;
    expect(letters / text.length).toBeGreaterThan(0.8);
    expect(text.split(/\s+/).filter((w) => /^[A-Za-z]+[,.;']?$/.test(w)).length).toBeGreaterThanOrEqual(4);
  });

  it("--json reports the prompt's log-probabilities and the reference model's greedy next token", async () => {
    const p = prompts.find((q) => q.name === "text_short")!;
    const r = await moeq("run", fixture, "-p", p.text, "-n", "1", "--json", "--top-k", "3");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      tokens: number[];
      positions: { top: { id: number; logprob: number }[] }[];
      lastLogprobs: number[];
      generated: { ids: number[] };
    };
    expect(j.tokens).toEqual(p.input_ids);
    expect(j.positions).toHaveLength(p.input_ids.length);
    expect(j.positions[0].top).toHaveLength(3);
    expect(j.lastLogprobs).toHaveLength(3200);
    expect(j.lastLogprobs.indexOf(Math.max(...j.lastLogprobs))).toBe(p.greedy_next_token);
    expect(j.generated.ids[0]).toBe(p.greedy_next_token);
  });

  it("--chat --image builds the reference image prompt and answers with the reference model's first token", async () => {
    const p = prompts.find((q) => q.name === "image_0")!;
    const question = "What is the total?\nAnswer the question using a single word or phrase.";
    const r = await moeq("run", fixture, "--chat", "--image", join(fixture, "reference", "image-0.png"), "-p", question, "-n", "1", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { prompt: string; tokens: number[]; generated: { ids: number[] } };
    expect(j.prompt).toBe(p.expanded_text);
    expect(j.tokens).toEqual(p.input_ids);
    expect(j.generated.ids[0]).toBe(p.greedy_next_token);
  });

  it("answers docvqa-mini questions about their images as the reference model does (greedy, 16 tokens)", async () => {
    const data = fileURLToPath(new URL("../../../../fixtures/data/docvqa-mini/", import.meta.url));
    const reference = JSON.parse(readFileSync(join(fixture, "reference", "reference.json"), "utf8")) as {
      docvqa_mini: { first_predictions: { questionId: string; prediction: string }[] };
    };
    const questions = readFileSync(join(data, "validation.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { questionId: string; question: string; image_path: string });
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(join(data, "validation.parquet")), columns: ["image"], utf8: false })) as {
      image: { path: string; bytes: Uint8Array };
    }[];
    const images = new Map(rows.map((r) => [String(r.image.path), r.image.bytes]));
    const dir = mkdtempSync(join(tmpdir(), "moeq-run-docvqa-"));
    for (const expected of reference.docvqa_mini.first_predictions.slice(0, 3)) {
      const q = questions.find((x) => x.questionId === expected.questionId)!;
      const png = join(dir, q.image_path);
      writeFileSync(png, images.get(q.image_path)!);
      const r = await moeq("run", fixture, "--chat", "--image", png, "-p", `${q.question}\nAnswer the question using a single word or phrase.`, "-n", "16");
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(expected.prediction);
    }
  });

  it("exits 2 on bad input, naming the problem", async () => {
    const missing = await moeq("run", join(fixture, "nope"), "-p", "x");
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope: no such file/);
    const badImage = await moeq("run", fixture, "-p", "x", "--image", join(fixture, "missing.png"));
    expect(badImage.code).toBe(2);
    expect(badImage.err).toMatch(/missing\.png: image file not found/);
    const notImage = await moeq("run", fixture, "-p", "x", "--image", join(fixture, "config.json"));
    expect(notImage.code).toBe(2);
    expect(notImage.err).toMatch(/config\.json: cannot read the image: image is neither PNG nor JPEG/);
    const badN = await moeq("run", fixture, "-p", "x", "-n", "-3");
    expect(badN.code).toBe(2);
  });
});
