import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "@moeq/formats";
import type { EvalReport } from "./report.js";
import { renderMarkdown } from "./markdown.js";
import { renderHtml } from "./html.js";

export interface ReportFiles {
  json: string;
  markdown: string;
  html: string;
}

/** Writes report.json, report.md and report.html into `dir` (each crash-safe). */
export function writeReport(dir: string, report: EvalReport): ReportFiles {
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, "report.json"), markdown: join(dir, "report.md"), html: join(dir, "report.html") };
  writeFileAtomicSync(files.json, JSON.stringify(report, null, 2) + "\n");
  writeFileAtomicSync(files.markdown, renderMarkdown(report) + "\n");
  writeFileAtomicSync(files.html, renderHtml(report));
  return files;
}
