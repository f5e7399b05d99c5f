// `moeq recipe` on the tiny fixture with a short ladder and one calibration chunk: the rules file covers every
// quantizable tensor, the verifying file fits the budget and equals both `moeq quantize --recipe` and llama.cpp's
// llama_model_quantize given the same rules; bad budgets and imatrix-needing types are bad input.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGGMLType } from "@moeq/formats";
import { LlamaFType } from "@moeq/convert";
import { referenceQuantize } from "@moeq/test-support/llama-quantize";
import { expectBadInputLine, moeq } from "../test-utils/run-moeq.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const calib = join(root, "fixtures/data/brown-validation.txt");
const dir = mkdtempSync(join(tmpdir(), "moeq-recipe-"));
const f = (n: string) => join(dir, n);
const common = ["--data", calib, "--ctx", "128", "--chunks", "1", "--threads", "2"];

beforeAll(async () => {
  const r = await moeq("convert", join(root, "fixtures/tiny-llama4"), "-o", f("bf16.gguf"), "--outtype", "bf16");
  if (r.code !== 0) throw new Error(r.err);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("moeq recipe", () => {
  it("chooses Q2_K/Q8_0 per group for a budget between the two; the rules reproduce the file in moeq quantize and llama.cpp", async () => {
    const budget = 4_000_000;
    const r = await moeq(
      "recipe",
      f("bf16.gguf"),
      "-o",
      f("r.txt"),
      "--size",
      `${budget / 1e6}MB`,
      "--types",
      "Q2_K,Q8_0",
      "--gguf",
      f("r.gguf"),
      "--json",
      ...common,
    );
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out);
    const report = JSON.parse(readFileSync(f("r.txt.json"), "utf8"));
    const size = statSync(f("r.gguf")).size;
    expect(size).toBe(summary.fileBytes);
    expect(size).toBe(report.predictedBytes);
    expect(size).toBeLessThanOrEqual(budget);
    expect(size).toBeGreaterThan(budget * 0.9);
    const picked = new Set(report.groups.map((g: { type: string }) => g.type));
    expect(picked).toEqual(new Set(["Q2_K", "Q8_0"]));
    expect(report.measuredKld).toBeGreaterThan(0);
    expect(report.predictedKld).toBeGreaterThan(0);
    for (const g of report.groups) expect(g.measured.map((m: { type: string }) => m.type)).toEqual(["Q2_K", "Q8_0"]);

    const items = readFileSync(f("r.txt"), "utf8").trim().split("\n");
    expect(items).toHaveLength(16); // 4 layers (2 dense, 2 MoE) + token_embd + output
    const q = await moeq("quantize", f("bf16.gguf"), f("q.gguf"), "Q8_0", "--recipe", f("r.txt"), "--json");
    expect(q.code, q.err).toBe(0);
    expect(readFileSync(f("q.gguf")).equals(readFileSync(f("r.gguf")))).toBe(true);
    const tensorTypes = items.map((s) => ({ pattern: s.slice(0, s.indexOf("=")), type: parseGGMLType(s.slice(s.indexOf("=") + 1))! }));
    referenceQuantize(f("bf16.gguf"), f("llama.gguf"), { ftype: LlamaFType.MOSTLY_Q8_0, tensorTypes });
    expect(readFileSync(f("llama.gguf")).equals(readFileSync(f("r.gguf")))).toBe(true);
  }, 120_000);

  it("a budget below the smallest possible file is bad input (one line, nothing written)", async () => {
    expectBadInputLine(
      await moeq("recipe", f("bf16.gguf"), "-o", f("small.txt"), "--size", "1MB", "--types", "Q2_K,Q8_0", ...common),
      /below the smallest possible file/,
    );
    expectBadInputLine(
      await moeq("recipe", f("bf16.gguf"), "-o", f("small.txt"), "--bpw", "1", "--types", "Q2_K,Q8_0", ...common),
      /below the smallest possible file/,
    );
    expect(() => statSync(f("small.txt"))).toThrow();
  });

  it("a type that needs an imatrix, without one, is bad input; so is a missing or double budget", async () => {
    expectBadInputLine(
      await moeq("recipe", f("bf16.gguf"), "-o", f("iq.txt"), "--size", "3MB", "--types", "IQ2_XXS,Q8_0", ...common),
      /requires an imatrix.*iq2_xxs/,
    );
    expectBadInputLine(await moeq("recipe", f("bf16.gguf"), "-o", f("iq.txt"), ...common), /exactly one of --size and --bpw/);
    expectBadInputLine(await moeq("recipe", f("bf16.gguf"), "-o", f("iq.txt"), "--size", "3 parsecs", ...common), /--size expects/);
    expect(() => statSync(f("iq.txt"))).toThrow();
  });
});
