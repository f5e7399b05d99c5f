import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parquetWriteBuffer } from "hyparquet-writer";
import { InputError } from "@moeq/formats";
import type { EvalModel } from "../model.js";
import { argmaxFirst, evaluateMmlu, loadMmluItems, loglikelihoods, mmluContext, mmluDevFileFor, selectMmluSubset, type MmluItem } from "./mmlu.js";

const dir = mkdtempSync(join(tmpdir(), "moeq-mmlu-"));

const item = (q: string, subject: string, answer: number): MmluItem => ({ question: q, subject, choices: ["w", "x", "y", "z"], answer });

/**
 * Character-level model: only the last position of each call gets +2 on the letter `favour(text)`,
 * every other logit is 0 — enough to hand-compute log-likelihoods.
 */
function letterModel(favour: (ctx: string) => number, tie = false): EvalModel & { seen: string[] } {
  const alphabet = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
  const V = alphabet.length + 1;
  const seen: string[] = [];
  return {
    name: "letters",
    vocabSize: V,
    nCtxTrain: 1 << 16,
    bosId: 128,
    seen,
    tokenize: (t, o) => (o?.addBos ? [128] : []).concat(Array.from(t, (c) => c.charCodeAt(0) & 127)),
    detokenize: (ids) => ids.map((i) => (i < 128 ? alphabet[i] : "")).join(""),
    async logits(tokens) {
      const text = tokens.map((t) => (t < 128 ? alphabet[t] : "")).join("");
      seen.push(text);
      const out = new Float32Array(tokens.length * V);
      const last = (tokens.length - 1) * V;
      if (!tie) out[last + "ABCD".charCodeAt(favour(text)) - 0] = 2;
      return out;
    },
    async generate() {
      return "";
    },
    async close() {},
  };
}

describe("MMLU prompt (lm-eval mmlu, num_fewshot k)", () => {
  it("builds header, shots with ' {letter}\\n\\n', and the question ending in 'Answer:'", () => {
    const shot: MmluItem = { question: " 2+2? ", subject: "high_school_math", choices: ["3", "4", "5", "6"], answer: 1 };
    const test: MmluItem = { question: "1+1?", subject: "high_school_math", choices: ["2", "3", "4", "5"], answer: 0 };
    expect(mmluContext(test, [shot])).toBe(
      "The following are multiple choice questions (with answers) about high school math.\n\n" +
        "2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer: B\n\n" +
        "1+1?\nA. 2\nB. 3\nC. 4\nD. 5\nAnswer:",
    );
  });
});

describe("MMLU scoring", () => {
  it("scores ' A'..' D' by log-likelihood at the last context position (hand-computed)", async () => {
    const m = letterModel(() => 2);
    // with a character tokenizer " A" is two tokens (space, letter), so each choice takes the multi-token path
    const ll = await loglikelihoods(m, "Q\nAnswer:", [" A", " B", " C", " D"]);
    const V = 129;
    // one pass over context + " ": the ':' row is all zeros (ln p(' ') = −ln V); the final ' ' row has +2 on 'C'
    const lnZ = Math.log(V - 1 + Math.exp(2));
    expect(ll[0]).toBeCloseTo(-Math.log(V) - lnZ, 6);
    expect(ll[2]).toBeCloseTo(-Math.log(V) + 2 - lnZ, 6);
    expect(argmaxFirst(ll)).toBe(2);
  });
  it("breaks ties toward the first choice (numpy argmax)", async () => {
    expect(argmaxFirst([0.5, 0.5, 0.1])).toBe(0);
    const r = await evaluateMmlu(
      letterModel(() => 0, true),
      [item("q", "s", 2)],
      { k: 0 },
    );
    expect(r.items[0].pred).toBe(0);
    expect(r.acc).toBe(0);
  });
  it("computes acc and its stderr sqrt(p(1−p)/(n−1)) micro-averaged, and per subject", async () => {
    // the model always answers B
    const m = letterModel(() => 1);
    const items = [item("a", "s1", 1), item("b", "s1", 1), item("c", "s1", 0), item("d", "s2", 1), item("e", "s2", 3)];
    const r = await evaluateMmlu(m, items, { k: 0 });
    expect(r.correct).toBe(3);
    expect(r.acc).toBeCloseTo(0.6, 12);
    expect(r.accStderr).toBeCloseTo(Math.sqrt((0.6 * 0.4) / 4), 12);
    expect(r.bySubject.s1.acc).toBeCloseTo(2 / 3, 12);
    expect(r.bySubject.s2.acc).toBe(0.5);
  });
  it("draws the first k dev examples of the same subject, and rejects too few", async () => {
    const m = letterModel(() => 1);
    const dev = [item("d1", "s1", 0), item("d2", "s2", 1), item("d3", "s1", 2), item("d4", "s1", 3)];
    await evaluateMmlu(m, [item("t", "s1", 1)], { k: 2, fewshot: dev });
    expect(m.seen[0]).toContain("d1\nA. w");
    expect(m.seen[0]).toContain("d3\nA. w");
    expect(m.seen[0]).not.toContain("d4");
    expect(m.seen[0]).not.toContain("d2");
    await expect(evaluateMmlu(m, [item("t", "s2", 1)], { k: 2, fewshot: dev })).rejects.toThrow(InputError);
  });
});

describe("MMLU data", () => {
  it("loads cais/mmlu parquet and finds the dev split next to the test file", async () => {
    const sub = join(dir, "all");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(sub, { recursive: true });
    const cols = (n: number, split: string) => [
      { name: "question", data: Array.from({ length: n }, (_, i) => `${split} q${i}`) },
      { name: "subject", data: Array.from({ length: n }, (_, i) => (i % 2 ? "anatomy" : "virology")) },
      { name: "choices", data: Array.from({ length: n }, () => ["a", "b", "c", "d"]) },
      { name: "answer", data: Array.from({ length: n }, (_, i) => i % 4) },
    ];
    writeFileSync(join(sub, "test-00000-of-00001.parquet"), new Uint8Array(parquetWriteBuffer({ columnData: cols(20, "test") })));
    writeFileSync(join(sub, "dev-00000-of-00001.parquet"), new Uint8Array(parquetWriteBuffer({ columnData: cols(10, "dev") })));
    const test = join(sub, "test-00000-of-00001.parquet");
    const items = await loadMmluItems(test);
    expect(items).toHaveLength(20);
    expect(items[3]).toEqual({ question: "test q3", subject: "anatomy", choices: ["a", "b", "c", "d"], answer: 3 });
    expect(mmluDevFileFor(test)).toBe(join(sub, "dev-00000-of-00001.parquet"));
  });
  it("loads JSONL with letter answers and reports bad rows with file and line", async () => {
    const p = join(dir, "mini.jsonl");
    writeFileSync(p, `{"question":"q","subject":"s","choices":["a","b","c","d"],"answer":"C"}\n\n`);
    expect((await loadMmluItems(p))[0].answer).toBe(2);
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `{"question":"q","subject":"s","choices":["a","b"],"answer":5}\n`);
    await expect(loadMmluItems(bad)).rejects.toThrow(/bad\.jsonl.*row 0.*answer 5/);
    const broken = join(dir, "broken.jsonl");
    writeFileSync(broken, `{"question":\n`);
    await expect(loadMmluItems(broken)).rejects.toThrow(/broken\.jsonl.*line 1/);
  });
  it("samples a deterministic, seeded subset per subject, kept in file order", () => {
    const items = Array.from({ length: 60 }, (_, i) => item(`q${i}`, i < 40 ? "a" : "b", 0));
    const s1 = selectMmluSubset(items, { limit: 5, seed: 1 });
    const s2 = selectMmluSubset(items, { limit: 5, seed: 1 });
    const s3 = selectMmluSubset(items, { limit: 5, seed: 2 });
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(s3);
    expect(s1.filter((x) => x.subject === "a")).toHaveLength(5);
    expect(s1.filter((x) => x.subject === "b")).toHaveLength(5);
    const idx = s1.map((x) => items.indexOf(x));
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
    expect(selectMmluSubset(items, { subjects: ["b"] })).toHaveLength(20);
    expect(() => selectMmluSubset(items, { subjects: ["nope"] })).toThrow(/nope/);
  });
});
