import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ImatrixStats } from "@moeq/convert";
import { moeq } from "../test-utils/run-moeq.js";
import { writeTinyLlamaGguf } from "@moeq/test-support/tiny-gguf";
import { fakeCorpus } from "@moeq/test-support/fake-model";

const dir = mkdtempSync(join(tmpdir(), "moeq-cli-gate-"));
const base = join(dir, "base.gguf");
const close = join(dir, "close.gguf");
const far = join(dir, "far.gguf");
const gate = join(dir, "gate.yml");

beforeAll(() => {
  writeTinyLlamaGguf(base, { seed: 9 });
  writeTinyLlamaGguf(close, { seed: 9, noise: 0.01 });
  writeTinyLlamaGguf(far, { seed: 9, noise: 0.5 });
  writeFileSync(join(dir, "corpus.txt"), fakeCorpus(1500));
  writeFileSync(
    gate,
    `version: 1
tasks:
  kld: { data: corpus.txt, ctx: 64, chunks: 3 }
gates:
  - { metric: kld_mean, op: "<=", threshold: 0.01 }
  - { metric: same_top_p, op: ">=", threshold: 0.9 }
  - { metric: ppl_ratio, op: "<=", threshold: 1.05 }
`,
  );
});

describe("moeq gate", () => {
  it("exits 0 and writes the reports when every gate passes (llama.cpp engine, base logits reused)", async () => {
    const report = join(dir, "report-close");
    const sweep = join(dir, "sweep.json");
    writeFileSync(
      sweep,
      JSON.stringify([
        { label: "Q8_0", sizeBytes: 5.6e6, kldMean: 1e-5 },
        { label: "Q2_K", sizeBytes: 2.4e6, kldMean: 8e-4 },
      ]),
    );
    const errors = join(dir, "expert-errors.json");
    writeFileSync(
      errors,
      JSON.stringify([0, 1].flatMap((layer) => [0, 1, 2, 3].map((expert) => ({ layer, expert, tensor: "ffn_down_exps", rmse: 0.01 * (1 + layer + expert) })))),
    );
    // an imatrix with 4 experts in layers 1 and 3: the report's tokens-per-expert heatmap
    const imatrix = join(dir, "imatrix.gguf");
    const stats = new ImatrixStats(64);
    for (const layer of [1, 3])
      for (let e = 0; e < 4; e++) stats.addExpert(`blk.${layer}.ffn_gate_exps.weight`, 4, e, new Float32Array(8 * (e + 1)).fill(0.5), e + 1, 8);
    await stats.writeGguf(imatrix, "corpus.txt");
    const r = await moeq(
      "gate",
      close,
      "--gate",
      gate,
      "--base",
      base,
      "--engine",
      "llama.cpp",
      "--threads",
      "2",
      "--report",
      report,
      "--sweep",
      sweep,
      "--expert-errors",
      errors,
      "--imatrix",
      imatrix,
    );
    expect(r.err).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kld_mean\s+\S+\s+<=\s+0\.01\s+base\s+pass$/m);
    for (const f of ["report.json", "report.md", "report.html", "base.kld"]) expect(existsSync(join(report, f))).toBe(true);
    expect(JSON.parse(readFileSync(join(report, "report.json"), "utf8")).passed).toBe(true);
    const html = readFileSync(join(report, "report.html"), "utf8");
    expect(html).toMatch(/id="plot-quality-size"[^>]*data-points="2"/);
    expect(html).toMatch(/id="plot-kld-histogram"/);
    expect(html).toMatch(/id="plot-expert-error-ffn_down_exps"[^>]*data-rows="2"[^>]*data-cols="4"/);
    expect(html).toMatch(/id="plot-imatrix-expert-tokens"[^>]*data-rows="4"[^>]*data-cols="4"/);
    expect(html).toMatch(/class="cell"[^>]*data-layer="3"[^>]*data-expert="2"[^>]*data-tokens="3"/);
    expect(readFileSync(join(report, "report.md"), "utf8")).toContain("all gates passed");
    // the same base logits file, passed as --base, is reused without the base model
    const again = await moeq("gate", far, "--gate", gate, "--base", join(report, "base.kld"), "--engine", "llama.cpp", "--threads", "2", "--json");
    expect(again.code).toBe(1);
    const j = JSON.parse(again.out);
    expect(j.passed).toBe(false);
    expect(j.gates.find((g: { metric: string }) => g.metric === "kld_mean").pass).toBe(false);
    expect(again.err).toMatch(/gate\.yml: \d of 3 gates failed: .*kld_mean/);
  }, 120_000);

  it("exits 2 on bad input: broken gate file, missing base, missing model", async () => {
    const bad = join(dir, "bad.yml");
    writeFileSync(bad, "gates:\n  - { metric: nonsense, op: '<=', threshold: 1 }\n");
    const r1 = await moeq("gate", close, "--gate", bad, "--engine", "llama.cpp");
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/bad\.yml: .*nonsense/);
    const r2 = await moeq("gate", close, "--gate", gate, "--engine", "llama.cpp", "--threads", "2");
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/--base/);
    const r3 = await moeq("gate", join(dir, "missing.gguf"), "--gate", gate, "--engine", "llama.cpp");
    expect(r3.code).toBe(2);
    const r4 = await moeq("gate", close, "--gate", join(dir, "nope.yml"));
    expect(r4.code).toBe(2);
    const r6 = await moeq("gate", close, "--gate", gate, "--base", join(dir, "gone.kld"), "--engine", "llama.cpp");
    expect(r6.code).toBe(2);
    expect(r6.err).toMatch(/gone\.kld: base logits file not found/);
    const badSweep = join(dir, "bad-sweep.json");
    writeFileSync(badSweep, JSON.stringify([{ label: "Q8_0" }]));
    const r5 = await moeq("gate", close, "--gate", gate, "--base", base, "--sweep", badSweep, "--engine", "llama.cpp");
    expect(r5.code).toBe(2);
    expect(r5.err).toMatch(/bad-sweep\.json: row 0: "sizeBytes"/);
  }, 60_000);
});

describe("moeq eval", () => {
  it("--task ppl --json prints llama-perplexity's numbers", async () => {
    const r = await moeq(
      "eval",
      base,
      "--task",
      "ppl",
      "--data",
      join(dir, "corpus.txt"),
      "--ctx",
      "64",
      "--chunks",
      "2",
      "--engine",
      "llama.cpp",
      "--threads",
      "2",
      "--json",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.results.ppl.nChunk).toBe(2);
    expect(j.results.ppl.tokensScored).toBe(2 * 31);
    expect(j.metrics.ppl).toBeGreaterThan(1);
  }, 60_000);
  it("exits 2 when the data file is missing or a kld run has no base", async () => {
    expect((await moeq("eval", base, "--task", "ppl", "--data", join(dir, "none.txt"), "--engine", "llama.cpp")).code).toBe(2);
    expect((await moeq("eval", base, "--task", "kld", "--data", join(dir, "corpus.txt"), "--engine", "llama.cpp")).code).toBe(2);
  });
});
