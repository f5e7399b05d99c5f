import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@moeq/formats";
import { fakeCorpus, fakeModel } from "@moeq/test-support/fake-model";
import { loadReferenceFile } from "../references.js";
import { parseGateFile } from "./gate-file.js";
import { evaluateGates } from "./evaluate.js";
import { runGate } from "./run-gate.js";

const dir = mkdtempSync(join(tmpdir(), "moeq-gates-"));
writeFileSync(join(dir, "corpus.txt"), fakeCorpus(4000));
const mmluRows = Array.from({ length: 8 }, (_, i) => JSON.stringify({ question: `q${i}`, subject: "s", choices: ["a", "b", "c", "d"], answer: i % 4 }));
writeFileSync(join(dir, "mmlu.jsonl"), mmluRows.join("\n"));
writeFileSync(join(dir, "refs.json"), JSON.stringify({ schema: 1, model: "m", version: "1", metrics: { acc: { value: 0.5, source: "test" } } }));

const yaml = (gates: string, extra = "") => `version: 1
tasks:
  ppl: { data: corpus.txt, ctx: 64, chunks: 8 }
  kld: { data: corpus.txt, ctx: 64, chunks: 8 }
  mmlu: { data: mmlu.jsonl, k: 0 }
${extra}gates:
${gates}`;

describe("gate file", () => {
  it("parses YAML with absolute, base-relative and reference-relative gates; paths relative to the file", () => {
    const g = parseGateFile(
      yaml(
        `  - { metric: ppl, op: "<=", threshold: 40 }
  - { metric: kld_mean, op: "<=", threshold: 0.05 }
  - { metric: mmlu_acc, op: ">=", reference: acc, delta: 0.1 }
`,
        "references: refs.json\n",
      ),
      join(dir, "gate.yml"),
    );
    expect(g.tasks.ppl?.data).toBe(join(dir, "corpus.txt"));
    expect(g.gates).toHaveLength(3);
    expect(g.gates[2]).toEqual({ metric: "mmlu_acc", op: ">=", threshold: undefined, reference: "acc", delta: 0.1 });
  });
  it("parses JSON too", () => {
    const g = parseGateFile(JSON.stringify({ tasks: { ppl: { data: "x.txt" } }, gates: [{ metric: "ppl", op: "<", threshold: 3 }] }), join(dir, "g.json"));
    expect(g.gates[0].op).toBe("<");
  });
  it.each([
    ["an unknown metric", `  - { metric: bleu, op: "<=", threshold: 1 }\n`, /bleu/],
    ["a bad operator", `  - { metric: ppl, op: "=~", threshold: 1 }\n`, /op/],
    ["both threshold and reference", `  - { metric: ppl, op: "<=", threshold: 1, reference: x }\n`, /exactly one/],
    ["a reference without references:", `  - { metric: mmlu_acc, op: ">=", reference: acc }\n`, /references/],
    ["a non-numeric threshold", `  - { metric: ppl, op: "<=", threshold: low }\n`, /threshold/],
  ])("rejects %s with an InputError naming the file", (_, gates, msg) => {
    const f = join(dir, "bad.yml");
    expect(() => parseGateFile(yaml(gates), f)).toThrow(InputError);
    expect(() => parseGateFile(yaml(gates), f)).toThrow(msg);
    expect(() => parseGateFile(yaml(gates), f)).toThrow(/bad\.yml/);
  });
  it("rejects YAML syntax errors and gates on tasks that are not configured", () => {
    expect(() => parseGateFile("gates: [", join(dir, "x.yml"))).toThrow(/x\.yml: cannot parse/);
    expect(() => parseGateFile(`tasks: {}\ngates:\n  - { metric: docvqa_anls, op: ">=", threshold: 0.5 }\n`, join(dir, "y.yml"))).toThrow(/tasks\.docvqa/);
  });
});

describe("evaluateGates", () => {
  it("passes and fails on the boundary as the operator says, with reference − δ", () => {
    const refs = { schema: 1 as const, model: "card", version: "1", metrics: { acc: { value: 0.8, source: "u" } } };
    const out = evaluateGates(
      [
        { metric: "ppl", op: "<=", threshold: 10 },
        { metric: "ppl", op: "<", threshold: 10 },
        { metric: "same_top_p", op: ">=", threshold: 0.9 },
        { metric: "mmlu_acc", op: ">=", reference: "acc", delta: 0.05 },
        { metric: "mmlu_acc", op: ">=", reference: "acc", delta: 0.01 },
      ],
      { ppl: 10, same_top_p: 0.89, mmlu_acc: 0.76 },
      refs,
    );
    expect(out.map((o) => o.pass)).toEqual([true, false, false, true, false]);
    expect(out[3].threshold).toBeCloseTo(0.75, 12);
    expect(out[3].basis).toBe("reference card:acc − 0.05");
    expect(out[2].basis).toBe("base");
    expect(out[0].basis).toBe("absolute");
  });
  it("with sigma, fails only when the threshold is crossed by more than k standard errors", () => {
    const gates = [
      { metric: "ppl_ratio" as const, op: "<=" as const, threshold: 1.05, sigma: 2 },
      { metric: "same_top_p" as const, op: ">=" as const, threshold: 0.9, sigma: 2 },
    ];
    const se = { ppl_ratio: 0.01, same_top_p: 0.004 };
    // 1.06 − 2·0.01 = 1.04 ≤ 1.05 passes; 0.89 + 2·0.004 = 0.898 < 0.9 fails
    const out = evaluateGates(gates, { ppl_ratio: 1.06, same_top_p: 0.89 }, undefined, undefined, se);
    expect(out.map((o) => o.pass)).toEqual([true, false]);
    expect(out[0].basis).toBe("base, 2σ");
    expect(out[0].stderr).toBe(0.01);
    expect(evaluateGates(gates, { ppl_ratio: 1.08, same_top_p: 0.895 }, undefined, undefined, se).map((o) => o.pass)).toEqual([false, true]);
    expect(() => evaluateGates(gates, { ppl_ratio: 1, same_top_p: 1 })).toThrow(/standard error/);
    expect(() => parseGateFile(yaml(`  - { metric: kld_p99, op: "<=", threshold: 1, sigma: 2 }\n`), join(dir, "s.yml"))).toThrow(/sigma/);
  });
  it("a NaN metric fails; a missing metric or reference is bad input", () => {
    expect(evaluateGates([{ metric: "ppl", op: "<=", threshold: 1 }], { ppl: NaN })[0].pass).toBe(false);
    expect(() => evaluateGates([{ metric: "ppl", op: "<=", threshold: 1 }], {})).toThrow(InputError);
    expect(() => evaluateGates([{ metric: "mmlu_acc", op: ">=", reference: "zz" }], { mmlu_acc: 1 })).toThrow(/zz/);
  });
});

describe("reference files", () => {
  it("ship the Llama 4 model-card numbers with their source", () => {
    const scout = loadReferenceFile("llama-4-scout-17b-16e");
    expect(scout.metrics.mmlu_acc.value).toBe(0.796);
    expect(scout.metrics.mmlu_acc.source).toMatch(/^https:\/\/github\.com\/meta-llama\/llama-models/);
    expect(loadReferenceFile("llama-4-maverick-17b-128e").metrics["instruct.docvqa_anls"].value).toBe(0.944);
  });
  it("read another JSON at runtime (loadFrom), all numeric leaves or a map", () => {
    const sub = join(dir, "fx");
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, "reference.json"), JSON.stringify({ ppl: { value: 7.5 }, mmlu: { acc: 0.4 }, name: "x" }));
    writeFileSync(join(dir, "fx-ref.json"), JSON.stringify({ schema: 1, model: "fx", loadFrom: "fx/reference.json" }));
    const r = loadReferenceFile(join(dir, "fx-ref.json"));
    expect(r.metrics["ppl.value"].value).toBe(7.5);
    expect(r.metrics["mmlu.acc"].value).toBe(0.4);
    writeFileSync(join(dir, "fx-map.json"), JSON.stringify({ schema: 1, model: "fx", loadFrom: "fx/reference.json", map: { mmlu_acc: "mmlu.acc" } }));
    expect(loadReferenceFile(join(dir, "fx-map.json")).metrics.mmlu_acc.value).toBe(0.4);
    writeFileSync(join(dir, "fx-gone.json"), JSON.stringify({ schema: 1, model: "fx", loadFrom: "nowhere/reference.json" }));
    expect(() => loadReferenceFile(join(dir, "fx-gone.json"))).toThrow(/fx-gone\.json.*does not exist/);
  });
});

describe("runGate", () => {
  const gateText = `  - { metric: ppl_ratio, op: "<=", threshold: 1.02 }
  - { metric: kld_mean, op: "<=", threshold: 0.01 }
  - { metric: same_top_p, op: ">=", threshold: 0.9 }
`;
  it("needs a base model for base-relative gates (bad input before any work)", async () => {
    const g = parseGateFile(yaml(gateText), join(dir, "gate.yml"));
    await expect(runGate(fakeModel(), g)).rejects.toThrow(/--base/);
  });
  it("passes a faithful copy and fails a noisy one; the base .kld is written once and reused", async () => {
    const kld = join(dir, "base.kld");
    const g = parseGateFile(yaml(gateText, ""), join(dir, "gate.yml"));
    let opened = 0;
    const openBase = async () => {
      opened++;
      return fakeModel({ seed: 4 });
    };
    const good = await runGate(fakeModel({ seed: 4, noise: 0.02 }), g, { openBase, baseLogitsOut: kld });
    expect(good.passed).toBe(true);
    expect(good.results.basePpl?.nChunk).toBe(8);
    const bad = await runGate(fakeModel({ seed: 4, noise: 1.5 }), g, { openBase, baseLogitsOut: kld });
    expect(bad.passed).toBe(false);
    expect(bad.outcomes.find((o) => o.metric === "kld_mean")?.pass).toBe(false);
    expect(opened).toBe(1);
    expect(bad.results.basePpl).toBeUndefined();
  });
  it("gates MMLU against a reference file", async () => {
    const g = parseGateFile(yaml(`  - { metric: mmlu_acc, op: ">=", reference: acc, delta: 0.5 }\n`, "references: refs.json\n"), join(dir, "gate.yml"));
    const run = await runGate(fakeModel(), g);
    expect(run.results.mmlu?.n).toBe(8);
    expect(run.outcomes[0].threshold).toBe(0);
    expect(run.passed).toBe(true);
  });
});
