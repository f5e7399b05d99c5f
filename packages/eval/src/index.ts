// @moeq/eval's public API: open a model with an engine, run the tasks, gate the metrics, write and read the
// report. The arithmetic behind each metric (log-softmax words, stats, histograms, SVG) stays internal.

// Models and engines
export type { EvalModel, ProgressFn } from "./model.js";
export { ENGINES, openEvalModel, type EngineName, type OpenEvalModelOptions } from "./engines/index.js";

// Tasks (what `moeq eval` runs) and their results
export { runPplTask, runKldTask, ensureBaseLogits, runMmluTask, runDocVqaTask, type TaskProgress } from "./tasks.js";
export { flatMetrics, flatStderrs, type EvalResults } from "./results.js";

// Calibration text (plain, .jsonl, .parquet)
export { readCalibrationText, type CalibrationTextOptions } from "./datasets/calibration-text.js";

// Metrics, usable on their own
export { perplexity, perplexityOfTokens, formatPerplexity, DEFAULT_PPL_CTX, type PerplexityOptions, type PerplexityResult } from "./metrics/perplexity.js";
export { klDivergence, formatKld, type KldOptions, type KldResult, type ValueAndStderr, type Distribution } from "./metrics/kld.js";
export { KldFileReader, KldFileWriter, type KldFileHeader } from "./metrics/kld-file.js";
export { anlsScore, type AnlsOptions } from "./metrics/anls.js";
export { evaluateMmlu, loadMmluItems, type MmluItem, type MmluResult, type MmluEvalOptions } from "./datasets/mmlu.js";
export { evaluateDocVqa, loadDocVqaItems, type DocVqaItem, type DocVqaResult, type DocVqaEvalOptions } from "./datasets/docvqa.js";

// Gates
export { loadGateFile, parseGateFile, GATE_OPS, type Gate, type GateFile, type GateMetric, type GateOp } from "./gates/gate-file.js";
export { evaluateGates, type GateOutcome } from "./gates/evaluate.js";
export { runGate, type GateRun, type RunGateOptions } from "./gates/run-gate.js";
export { loadReferenceFile, type ReferenceFile, type ReferenceMetric } from "./references.js";

// Reports
export { compactResults, type EvalReport, type ExpertError, type QuantPoint } from "./reports/report.js";
export { writeReport, type ReportFiles } from "./reports/write-report.js";
export { readReport, parseReport, gateVerdict, REPORT_SCHEMA, type GateVerdict } from "./reports/read-report.js";
export { renderMarkdown, renderGateTable } from "./reports/markdown.js";
export { renderHtml } from "./reports/html.js";
