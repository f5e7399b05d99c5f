// GPTQ vs round-to-nearest on the fixture, measured with the moeq runtime against the BF16 model on
// fixtures/data/brown-test.txt (llama-perplexity's chunking, n_ctx 256): PPL, mean KLD and same-top for
// `moeq gptq` (calibrated on fixtures/data/brown-validation.txt) and `moeq gptq --rtn` at each format, plus the
// per-expert GPTQ objective ½Σ(w−ŵ)ᵀH(w−ŵ) of GPTQ and of RTN on the same H (gptq-report.json) for the MoE layers.
//   npx vitest run --config scripts/gptq-quality.vitest.config.ts
// Environment: MOEQ_GPTQ_CHUNKS (default 60), MOEQ_GPTQ_NSAMPLES (default 64), MOEQ_GPTQ_SEQLEN (default 256),
// MOEQ_GPTQ_OUT (also write the Markdown there).
import { it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { klDivergence, openEvalModel, perplexity } from "@moeq/eval";
import type { GptqConvertOptions, GptqReport } from "@moeq/convert";
import { gptqConvert } from "@moeq/convert";

const root = fileURLToPath(new URL("..", import.meta.url));
const env = process.env;

it("GPTQ vs RTN quality table", async () => {
  const model = join(root, "fixtures/tiny-llama4");
  const text = readFileSync(join(root, "fixtures/data/brown-test.txt"), "utf8");
  const calib = join(root, "fixtures/data/brown-validation.txt");
  const ctx = 256;
  const chunks = Number(env.MOEQ_GPTQ_CHUNKS ?? 60);
  const nsamples = Number(env.MOEQ_GPTQ_NSAMPLES ?? 64);
  const seqlen = Number(env.MOEQ_GPTQ_SEQLEN ?? 256);
  const tmp = mkdtempSync(join(tmpdir(), "moeq-gptq-quality-"));
  try {
    const baseKld = join(tmp, "base.kld");
    const base = await openEvalModel(model, { engine: "moeq" });
    const basePpl = await perplexity(base, text, { ctx, chunks, saveKldBase: baseKld });
    await base.close();
    const settings: [string, GptqConvertOptions][] = [
      ["GPTQ 4-bit g128", { bits: 4, groupSize: 128 }],
      ["GPTQ 4-bit g128 desc-act", { bits: 4, groupSize: 128, descAct: true }],
      ["RTN 4-bit g128", { bits: 4, groupSize: 128, rtn: true }],
      ["GPTQ 3-bit g128", { bits: 3, groupSize: 128 }],
      ["GPTQ 3-bit g128 desc-act", { bits: 3, groupSize: 128, descAct: true }],
      ["RTN 3-bit g128", { bits: 3, groupSize: 128, rtn: true }],
    ];
    const rows: string[] = [];
    const reports = new Map<string, GptqReport>();
    for (const [name, o] of settings) {
      const out = join(tmp, name.replace(/ /g, "_"));
      const s = await gptqConvert(model, out, o.rtn ? null : calib, { ...o, nsamples, seqlen });
      reports.set(name, s.report);
      const m = await openEvalModel(out, { engine: "moeq" });
      const k = await klDivergence(m, baseKld, { chunks });
      await m.close();
      rmSync(out, { recursive: true });
      const line = `| ${name} | ${k.pplQ.value.toFixed(4)} | ${(((k.pplQ.value - basePpl.ppl) / basePpl.ppl) * 100).toFixed(2)} % | ${k.kldMean.value.toFixed(6)} | ${(k.sameTopP.value * 100).toFixed(2)} % |`;
      rows.push(line);
      process.stderr.write(`${line}\n`);
    }
    const experts = (r: GptqReport) => r.layers.flatMap((l) => l.linears).filter((x) => /experts\.\d+\./.test(x.module));
    const g4 = experts(reports.get("GPTQ 4-bit g128")!);
    const byExpert = new Map<string, { tokens: number; gptq: number; rtn: number }>();
    for (const x of g4) {
      const key = x.module.replace(/^.*layers\.(\d+)\.feed_forward\.experts\.(\d+)\..*$/, "layer $1 expert $2");
      const e = byExpert.get(key) ?? { tokens: x.tokens, gptq: 0, rtn: 0 };
      e.gptq += x.gptqError ?? NaN;
      e.rtn += x.rtnError ?? NaN;
      byExpert.set(key, e);
    }
    const md = [
      `GPTQ vs RTN on fixtures/tiny-llama4, moeq runtime vs the BF16 model on fixtures/data/brown-test.txt (n_ctx ${ctx}, ${chunks} chunks; ` +
        `BF16 PPL ${basePpl.ppl.toFixed(4)}); GPTQ calibrated on brown-validation, ${nsamples} × ${seqlen} tokens, damp 0.01, asym`,
      "",
      "| format | PPL | vs BF16 | mean KLD | same top |",
      "|---|---:|---:|---:|---:|",
      ...rows,
      "",
      "Per-expert GPTQ objective ½Σ(w−ŵ)ᵀH(w−ŵ), gate+up+down, 4-bit g128 (RTN = before error feedback, GPTQ = after):",
      "",
      "| expert | routed tokens | RTN | GPTQ | GPTQ / RTN |",
      "|---|---:|---:|---:|---:|",
      ...[...byExpert].map(([k, e]) => `| ${k} | ${e.tokens} | ${e.rtn.toExponential(3)} | ${e.gptq.toExponential(3)} | ${(e.gptq / e.rtn).toFixed(3)} |`),
    ].join("\n");
    process.stderr.write(`\n${md}\n`);
    if (env.MOEQ_GPTQ_OUT) writeFileSync(env.MOEQ_GPTQ_OUT, md + "\n");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
