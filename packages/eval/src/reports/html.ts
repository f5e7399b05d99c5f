import type { EvalReport, ExpertError, ExpertTokens } from "./report.js";
import { renderMarkdown } from "./markdown.js";
import { esc, heatmapSvg, histogramSvg, scatterSvg } from "./svg.js";

/**
 * One heatmap per expert tensor: value = RMSE of (layer, expert). The converter also reports tensors that have no
 * experts (expert −1, and layer −1 outside the blocks); they have no layers × experts grid and are left out.
 */
function expertHeatmaps(all: readonly ExpertError[]): string {
  const errors = all.filter((e) => e.expert >= 0 && e.layer >= 0);
  const tensors = [...new Set(errors.map((e) => e.tensor))].sort();
  return tensors
    .map((t) => {
      const cells = errors.filter((e) => e.tensor === t).map((e) => ({ row: e.layer, col: e.expert, value: e.rmse }));
      return heatmapSvg(`plot-expert-error-${t.replace(/[^A-Za-z0-9_-]/g, "_")}`, `per-expert quantization RMSE: ${t}`, cells, "layer", "expert", {
        tensor: t,
      });
    })
    .join("\n");
}

/** The imatrix's calibration coverage: tokens routed to each (layer, expert). */
function expertTokensHeatmap(layers: readonly ExpertTokens[]): string {
  const cells = layers.flatMap((l) => l.tokens.map((value, col) => ({ row: l.layer, col, value })));
  return heatmapSvg("plot-imatrix-expert-tokens", "imatrix calibration: tokens routed per expert", cells, "layer", "expert", {}, "tokens");
}

/** Minimal Markdown → HTML for the summary block (tables, bold, code, headings, paragraphs). */
function mdToHtml(md: string): string {
  const inline = (s: string) =>
    esc(s)
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/`([^`]+)`/g, "<code>$1</code>");
  const out: string[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith("## ")) out.push(`<h1>${inline(l.slice(3))}</h1>`);
    else if (l.startsWith("|")) {
      const rows: string[][] = [];
      while (i < lines.length && lines[i].startsWith("|")) {
        if (!/^\|[-:| ]+\|$/.test(lines[i]))
          rows.push(
            lines[i]
              .slice(1, -1)
              .split("|")
              .map((c) => c.trim()),
          );
        i++;
      }
      i--;
      out.push(
        `<table>${rows.map((r, k) => `<tr>${r.map((c) => (k === 0 ? `<th>${inline(c)}</th>` : `<td>${inline(c)}</td>`)).join("")}</tr>`).join("")}</table>`,
      );
    } else if (l.trim()) out.push(`<p>${inline(l)}</p>`);
  }
  return out.join("\n");
}

// Adds a hover title to every mark from its data-* attributes and flags the page as rendered.
const SCRIPT = `
(function () {
  var marks = document.querySelectorAll("svg.plot .point, svg.plot .bar, svg.plot .cell");
  marks.forEach(function (el) {
    var t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    var d = el.dataset, parts = [];
    for (var k in d) parts.push(k + "=" + d[k]);
    t.textContent = parts.join(" ");
    el.appendChild(t);
  });
  document.body.setAttribute("data-plots-ready", String(document.querySelectorAll("svg.plot").length));
  document.body.setAttribute("data-marks", String(marks.length));
})();`;

/** Self-contained HTML report: summary tables plus inline SVG plots; no external assets. */
export function renderHtml(r: EvalReport): string {
  const plots: string[] = [];
  const sweep = r.quantSweep?.filter((q) => q.kldMean !== undefined || q.ppl !== undefined) ?? [];
  if (sweep.length) {
    const useKld = sweep.every((q) => q.kldMean !== undefined);
    plots.push(
      scatterSvg(
        "plot-quality-size",
        useKld ? "quality vs size: mean KLD vs base" : "quality vs size: perplexity",
        sweep.map((q) => ({ x: q.sizeBytes / 2 ** 20, y: (useKld ? q.kldMean : q.ppl) as number, label: q.label })),
        "file size (MiB)",
        useKld ? "mean KLD" : "PPL",
      ),
    );
  }
  const h = r.results.kld?.kldHistogram;
  if (h) plots.push(histogramSvg("plot-kld-histogram", "per-token KL divergence", h, "KLD (nats)"));
  if (r.expertErrors?.length) plots.push(expertHeatmaps(r.expertErrors));
  if (r.expertTokens?.length) plots.push(expertTokensHeatmap(r.expertTokens));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>moeq report: ${esc(r.model)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}code{background:#f3f3f3;padding:0 3px}.plots{display:flex;flex-wrap:wrap;gap:16px}
svg.plot{border:1px solid #eee;background:#fff}
</style></head>
<body>
<section class="summary">
${mdToHtml(renderMarkdown(r))}
</section>
<section class="plots">
${plots.join("\n")}
</section>
<script type="application/json" id="report-data">${JSON.stringify({ model: r.model, metrics: r.metrics, passed: r.passed }).replace(/</g, "\\u003c")}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
