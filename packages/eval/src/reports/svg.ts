// Inline SVG plots for the HTML report: plain strings, no external assets. Every mark carries its data
// in data-* attributes, so the report can be checked (and scraped) without reading pixels.
import type { Histogram } from "../metrics/histogram.js";

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

const num = (v: number) => Number(v.toPrecision(6)).toString();

interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}
const FRAME: Frame = { w: 560, h: 340, left: 64, right: 20, top: 28, bottom: 48 };

function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = (hi - lo) / n || 1;
  return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
}

const tick = (v: number) => Number(v.toPrecision(3)).toString();

function axes(f: Frame, xs: number[], ys: number[], sx: (v: number) => number, sy: (v: number) => number, xLabel: string, yLabel: string, yFmt = tick): string {
  const x0 = f.left;
  const y0 = f.h - f.bottom;
  let s = `<g class="axes" stroke="#444" fill="none"><line x1="${x0}" y1="${y0}" x2="${f.w - f.right}" y2="${y0}"/><line x1="${x0}" y1="${f.top}" x2="${x0}" y2="${y0}"/></g>`;
  s += `<g class="ticks" font-size="10" fill="#333">`;
  for (const t of xs) s += `<text x="${sx(t).toFixed(1)}" y="${y0 + 14}" text-anchor="middle">${esc(tick(t))}</text>`;
  for (const t of ys) s += `<text x="${x0 - 6}" y="${(sy(t) + 3).toFixed(1)}" text-anchor="end">${esc(yFmt(t))}</text>`;
  s += `</g><text x="${(x0 + f.w - f.right) / 2}" y="${f.h - 10}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`;
  s += `<text transform="translate(14 ${(f.top + y0) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`;
  return s;
}

export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
}

/** Labelled scatter plot (quality vs size). */
export function scatterSvg(id: string, title: string, points: readonly ScatterPoint[], xLabel: string, yLabel: string): string {
  const f = FRAME;
  const xsV = points.map((p) => p.x);
  const ysV = points.map((p) => p.y);
  const [xl, xh] = [Math.min(0, ...xsV), Math.max(...xsV) * 1.08 || 1];
  const [yl, yh] = [Math.min(0, ...ysV), Math.max(...ysV) * 1.1 || 1];
  const sx = linear(xl, xh, f.left, f.w - f.right);
  const sy = linear(yl, yh, f.h - f.bottom, f.top);
  let s = `<svg id="${esc(id)}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.w} ${f.h}" width="${f.w}" height="${f.h}" data-points="${points.length}">`;
  s += `<text x="${f.w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`;
  s += axes(f, ticks(xl, xh), ticks(yl, yh), sx, sy, xLabel, yLabel);
  const sorted = [...points].sort((a, b) => a.x - b.x);
  if (sorted.length > 1)
    s += `<polyline class="trend" fill="none" stroke="#9ab" stroke-dasharray="4 3" points="${sorted.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`;
  for (const p of points) {
    const cx = sx(p.x).toFixed(1);
    const cy = sy(p.y).toFixed(1);
    s += `<circle class="point" cx="${cx}" cy="${cy}" r="5" fill="#2a6fdb" data-label="${esc(p.label)}" data-x="${num(p.x)}" data-y="${num(p.y)}"/>`;
    s += `<text x="${cx}" y="${(Number(cy) - 8).toFixed(1)}" text-anchor="middle" font-size="10">${esc(p.label)}</text>`;
  }
  return s + "</svg>";
}

/** Bar histogram (per-token KLD distribution). */
export function histogramSvg(id: string, title: string, h: Histogram, xLabel: string): string {
  const f = FRAME;
  const lo = h.edges[0];
  const hi = h.edges[h.edges.length - 1];
  const top = Math.max(1, ...h.counts);
  const sx = linear(lo, hi, f.left, f.w - f.right);
  const sy = linear(0, top, f.h - f.bottom, f.top);
  let s = `<svg id="${esc(id)}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.w} ${f.h}" width="${f.w}" height="${f.h}" data-bins="${h.counts.length}">`;
  s += `<text x="${f.w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`;
  s += axes(f, ticks(lo, hi), ticks(0, top, 4), sx, sy, xLabel, "tokens", (v) => Math.round(v).toString());
  h.counts.forEach((c, i) => {
    const x = sx(h.edges[i]);
    const w = Math.max(0.5, sx(h.edges[i + 1]) - x - 1);
    const y = sy(c);
    s += `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${(f.h - f.bottom - y).toFixed(1)}" fill="#e07b39" data-count="${c}" data-lo="${num(h.edges[i])}" data-hi="${num(h.edges[i + 1])}"/>`;
  });
  return s + "</svg>";
}

/** Viridis-like ramp: t in [0,1] → rgb. */
export function ramp(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const u = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatCell {
  row: number;
  col: number;
  value: number;
}

/** rows (layers) × cols (experts) heatmap with a colour legend; each cell carries `data-<valueKey>`. */
export function heatmapSvg(
  id: string,
  title: string,
  cells: readonly HeatCell[],
  rowLabel: string,
  colLabel: string,
  extra: Record<string, string> = {},
  valueKey = "rmse",
): string {
  const nRows = Math.max(...cells.map((c) => c.row)) + 1;
  const nCols = Math.max(...cells.map((c) => c.col)) + 1;
  const cell = Math.max(4, Math.min(28, Math.floor(480 / Math.max(nCols, nRows))));
  const left = 56;
  const top = 30;
  // wide enough for the title and the legend's value labels, tall enough for the 160-px legend
  const w = Math.ceil(Math.max(left + nCols * cell + 110, title.length * 7.5 + 20));
  const h = Math.max(top + nRows * cell + 40, top + 175);
  const vals = cells.map((c) => c.value);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const attrs = Object.entries(extra)
    .map(([k, v]) => ` data-${k}="${esc(v)}"`)
    .join("");
  let s = `<svg id="${esc(id)}" class="plot heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" data-rows="${nRows}" data-cols="${nCols}"${attrs}>`;
  s += `<text x="${w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`;
  for (const c of cells) {
    const t = hi > lo ? (c.value - lo) / (hi - lo) : 0.5;
    s += `<rect class="cell" x="${left + c.col * cell}" y="${top + c.row * cell}" width="${cell - 1}" height="${cell - 1}" fill="${ramp(t)}" data-layer="${c.row}" data-expert="${c.col}" data-${valueKey}="${num(c.value)}"/>`;
  }
  const every = Math.max(1, Math.ceil(12 / cell));
  for (let r = 0; r < nRows; r += every)
    s += `<text class="row-label" x="${left - 4}" y="${top + r * cell + cell / 2 + 3}" text-anchor="end" font-size="9">${r}</text>`;
  for (let c = 0; c < nCols; c += every)
    s += `<text class="col-label" x="${left + c * cell + cell / 2}" y="${top + nRows * cell + 11}" text-anchor="middle" font-size="9">${c}</text>`;
  s += `<text x="${left + (nCols * cell) / 2}" y="${h - 8}" text-anchor="middle" font-size="12">${esc(colLabel)}</text>`;
  s += `<text transform="translate(14 ${top + (nRows * cell) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(rowLabel)}</text>`;
  const lx = left + nCols * cell + 20;
  for (let i = 0; i < 20; i++) s += `<rect class="legend" x="${lx}" y="${top + (19 - i) * 8}" width="14" height="8" fill="${ramp(i / 19)}"/>`;
  s += `<text x="${lx + 18}" y="${top + 8}" font-size="10">${esc(num(hi))}</text><text x="${lx + 18}" y="${top + 160}" font-size="10">${esc(num(lo))}</text>`;
  return s + "</svg>";
}
