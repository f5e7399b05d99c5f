import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../atomic-write.js";
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
  writeFileAtomic(files.json, JSON.stringify(report, null, 2) + "\n");
  writeFileAtomic(files.markdown, renderMarkdown(report) + "\n");
  writeFileAtomic(files.html, renderHtml(report));
  return files;
}
