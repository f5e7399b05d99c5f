import type { EvalReport } from "./report.js";
import type { GateOutcome } from "../gates/evaluate.js";

const fmt = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? "–" : Number(v.toPrecision(8)).toFixed(d));
const pct = (v: number | undefined, d = 2) => (v === undefined ? "–" : `${(100 * v).toFixed(d)} %`);

/** Text safe inside a Markdown table cell (a reference's model name may hold a pipe). */
const cell = (s: string) => s.replace(/[|\\]/g, "\\$&").replace(/\r?\n/g, " ");

/** The gate rows as a Markdown table (report.md and the model card `moeq publish` uploads). */
export function renderGateTable(gates: readonly GateOutcome[]): string {
  const rows = gates.map(
    (g) =>
      `| ${g.metric} | ${fmt(g.actual, 6)}${g.stderr !== undefined ? ` ± ${fmt(g.stderr, 6)}` : ""} | ${g.op} | ${fmt(g.threshold, 6)} | ${cell(g.basis)} | ${g.pass ? "pass" : "**FAIL**"} |`,
  );
  return ["| gate | actual | op | threshold | basis | result |", "|---|---:|:-:|---:|---|:-:|", ...rows].join("\n");
}

/** GitHub-flavoured Markdown for $GITHUB_STEP_SUMMARY. */
export function renderMarkdown(r: EvalReport): string {
  const out: string[] = [];
  const verdict = r.passed === undefined ? "" : r.passed ? " — ✅ all gates passed" : " — ❌ gate failed";
  out.push(`## moeq quality report: \`${r.model}\`${verdict}`, "");
  out.push(`engine \`${r.engine}\`${r.base ? ` · base \`${r.base}\`` : ""} · ${r.createdAt}`, "");
  if (r.gates?.length) out.push(renderGateTable(r.gates), "");
  const { ppl, kld, mmlu, docvqa, basePpl } = r.results;
  if (ppl)
    out.push(`**Perplexity** (n_ctx ${ppl.nCtx}, ${ppl.nChunk} chunks, ${ppl.tokensScored} tokens): PPL = ${fmt(ppl.ppl)} ± ${fmt(ppl.pplStderr, 5)}`, "");
  if (basePpl) out.push(`**Base perplexity**: PPL = ${fmt(basePpl.ppl)} ± ${fmt(basePpl.pplStderr, 5)}`, "");
  if (kld) {
    out.push(`**KL divergence vs base** (n_ctx ${kld.nCtx}, ${kld.nChunk} chunks, ${kld.tokensScored} tokens)`, "");
    out.push("| statistic | value |", "|---|---:|");
    out.push(`| Mean PPL(Q) / PPL(base) | ${fmt(kld.pplQ.value)} / ${fmt(kld.pplBase.value)} |`);
    out.push(`| PPL(Q)/PPL(base) | ${fmt(kld.pplRatio.value, 6)} ± ${fmt(kld.pplRatio.stderr, 6)} |`);
    out.push(`| Mean KLD | ${fmt(kld.kldMean.value, 6)} ± ${fmt(kld.kldMean.stderr, 6)} |`);
    out.push(`| Median / 99% / max KLD | ${fmt(kld.kld.median, 6)} / ${fmt(kld.kld.p99, 6)} / ${fmt(kld.kld.max, 6)} |`);
    out.push(`| Mean Δp | ${pct(kld.deltaPMean.value, 3)} ± ${pct(kld.deltaPMean.stderr, 3)} |`);
    out.push(`| RMS Δp | ${pct(kld.rmsDeltaP.value, 3)} ± ${pct(kld.rmsDeltaP.stderr, 3)} |`);
    out.push(`| Same top p | ${pct(kld.sameTopP.value, 3)} ± ${pct(kld.sameTopP.stderr, 3)} |`, "");
  }
  if (mmlu) {
    out.push(`**MMLU** (${mmlu.k}-shot, ${mmlu.n} questions): acc = ${pct(mmlu.acc)} ± ${pct(mmlu.accStderr)}`, "");
    const subj = Object.entries(mmlu.bySubject);
    if (subj.length > 1) {
      out.push("| subject | n | acc |", "|---|---:|---:|");
      for (const [s, a] of subj) out.push(`| ${s} | ${a.n} | ${pct(a.acc)} |`);
      out.push("");
    }
  }
  if (docvqa) out.push(`**DocVQA** (${docvqa.n} questions): ANLS = ${pct(docvqa.anls)} ± ${pct(docvqa.anlsStderr)}`, "");
  if (r.quantSweep?.length) {
    out.push("| quant | size (MiB) | PPL | mean KLD | same top p |", "|---|---:|---:|---:|---:|");
    for (const q of r.quantSweep)
      out.push(`| ${q.label} | ${(q.sizeBytes / 2 ** 20).toFixed(1)} | ${fmt(q.ppl)} | ${fmt(q.kldMean, 6)} | ${pct(q.sameTopP)} |`);
    out.push("");
  }
  return out.join("\n");
}
