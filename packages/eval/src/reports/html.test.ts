import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { histogram } from "../metrics/histogram.js";
import type { KldResult } from "../metrics/kld.js";
import { renderMarkdown } from "./markdown.js";
import { writeReport } from "./write-report.js";
import type { EvalReport, ExpertError } from "./report.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Synthetic but plausible report: 4 quant types, a KLD sample, 6 layers × 8 experts × 2 tensors. */
function syntheticReport(): EvalReport {
  const kldValues = Array.from({ length: 500 }, (_, i) => 0.002 + (0.05 * ((i * 37) % 101) ** 2) / 10201);
  const v = (value: number) => ({ value, stderr: value / 100 });
  const kld = {
    nCtx: 128,
    nChunk: 4,
    tokensScored: 500,
    enoughTokens: true,
    pplQ: v(10.4),
    pplBase: v(10.1),
    lnPplCorrelation: 0.99,
    lnPplRatio: v(Math.log(10.4 / 10.1)),
    pplRatio: v(10.4 / 10.1),
    pplDiff: v(0.3),
    kldMean: v(0.0213),
    kld: {
      max: 0.052,
      p99_9: 0.051,
      p99: 0.05,
      p95: 0.045,
      p90: 0.04,
      p75: 0.03,
      median: 0.015,
      p25: 0.006,
      p10: 0.003,
      p5: 0.0025,
      p1: 0.002,
      p0_1: 0.002,
      min: 0.002,
    },
    deltaPMean: v(-0.004),
    deltaP: {
      max: 0.1,
      p99_9: 0.09,
      p99: 0.08,
      p95: 0.05,
      p90: 0.03,
      p75: 0.01,
      median: 0,
      p25: -0.01,
      p10: -0.03,
      p5: -0.05,
      p1: -0.08,
      p0_1: -0.09,
      min: -0.1,
    },
    rmsDeltaP: v(0.031),
    sameTopP: v(0.93),
    kldHistogram: histogram(kldValues, 40, 0, 0.052),
  } satisfies KldResult;
  const expertErrors: ExpertError[] = [];
  for (let layer = 0; layer < 6; layer++)
    for (let expert = 0; expert < 8; expert++)
      for (const tensor of ["ffn_down_exps", "ffn_gate_exps"]) expertErrors.push({ layer, expert, tensor, rmse: 0.01 + 0.001 * layer + 0.0005 * expert });
  // tensors without experts, as the converter reports them: no heatmap
  expertErrors.push({ layer: -1, expert: -1, tensor: "output", rmse: 0.001 }, { layer: 0, expert: -1, tensor: "attn_q", rmse: 0.002 });
  return {
    schema: 1,
    model: "tiny-Q4_K_M.gguf",
    base: "tiny-bf16.gguf",
    engine: "llama.cpp",
    createdAt: "2026-11-29T00:00:00Z",
    results: { kld },
    metrics: { kld_mean: 0.0213, same_top_p: 0.93, ppl_ratio: 10.4 / 10.1 },
    gates: [
      { metric: "kld_mean", op: "<=", threshold: 0.05, actual: 0.0213, pass: true, basis: "base" },
      { metric: "same_top_p", op: ">=", threshold: 0.95, actual: 0.93, pass: false, basis: "base" },
    ],
    passed: false,
    quantSweep: [
      { label: "Q8_0", sizeBytes: 40e6, kldMean: 0.001 },
      { label: "Q6_K", sizeBytes: 31e6, kldMean: 0.004 },
      { label: "Q4_K_M", sizeBytes: 23e6, kldMean: 0.0213 },
      { label: "Q2_K", sizeBytes: 14e6, kldMean: 0.31 },
    ],
    expertErrors,
  };
}

describe("Markdown report", () => {
  it("has the gate table with a FAIL row and the KLD statistics", () => {
    const md = renderMarkdown(syntheticReport());
    expect(md).toContain("❌ gate failed");
    expect(md).toMatch(/\| same_top_p \| 0\.930000 \| >= \| 0\.950000 \| base \| \*\*FAIL\*\* \|/);
    expect(md).toContain("| Mean KLD | 0.021300 ± 0.000213 |");
    expect(md).toContain("| Q4_K_M | 21.9 |");
  });
});

describe("HTML report", () => {
  it("renders in headless Chromium with the three kinds of plots carrying their data", () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's 'chromium' package (CI does) or set CHROMIUM_PATH`);
    }
    const dir = mkdtempSync(join(tmpdir(), "moeq-report-"));
    const files = writeReport(dir, syntheticReport());
    const html = readFileSync(files.html, "utf8");
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/); // self-contained: no external assets
    const profile = mkdtempSync(join(tmpdir(), "moeq-chromium-"));
    const dom = execFileSync(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        "--dump-dom",
        pathToFileURL(files.html).href,
      ],
      { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    // the inline script ran: it counted the plots and gave every mark a <title>
    expect(dom).toMatch(/data-plots-ready="4"/); // scatter + histogram + 2 heatmaps
    expect(dom).toMatch(/data-marks="(\d+)"/);
    expect(Number(/data-marks="(\d+)"/.exec(dom)?.[1])).toBe(4 + 40 + 2 * 48);
    // quality vs size
    expect(dom).toMatch(/<svg[^>]*id="plot-quality-size"[^>]*data-points="4"/);
    expect(dom).toMatch(/<circle[^>]*class="point"[^>]*data-label="Q2_K"[^>]*data-y="0.31"/);
    // KLD histogram: 40 bars whose counts add up to the sample
    expect(dom).toMatch(/<svg[^>]*id="plot-kld-histogram"[^>]*data-bins="40"/);
    const counts = [...dom.matchAll(/class="bar"[^>]*data-count="(\d+)"/g)].map((m) => Number(m[1]));
    expect(counts).toHaveLength(40);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(500);
    // layers × experts heatmaps
    expect(dom).toMatch(/<svg[^>]*id="plot-expert-error-ffn_down_exps"[^>]*data-rows="6"[^>]*data-cols="8"/);
    expect(dom).not.toMatch(/id="plot-expert-error-(output|attn_q)"/);
    expect(dom).toMatch(/class="cell"[^>]*data-layer="5"[^>]*data-expert="7"[^>]*data-rmse="0.0185"/);
    expect(dom).toContain("<title>layer=5 expert=7 rmse=0.0185</title>");
  });
});

describe("imatrix tokens-per-expert heatmap", () => {
  it("one cell per (MoE layer, expert) with its token count; absent without expertTokens", async () => {
    const { renderHtml } = await import("./html.js");
    const base = syntheticReport();
    const html = renderHtml({
      ...base,
      expertTokens: [
        { layer: 1, tokens: [90, 128, 91, 203] },
        { layer: 3, tokens: [111, 82, 58, 261] },
      ],
    });
    expect(html).toMatch(/<svg[^>]*id="plot-imatrix-expert-tokens"[^>]*data-rows="4"[^>]*data-cols="4"/);
    expect(html).toMatch(/class="cell"[^>]*data-layer="3"[^>]*data-expert="3"[^>]*data-tokens="261"/);
    expect([...html.matchAll(/data-tokens="/g)]).toHaveLength(8);
    expect(renderHtml(base)).not.toContain("plot-imatrix-expert-tokens");
  });
});
