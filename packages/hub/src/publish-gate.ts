/**
 * The quality-gate verdict publish honours, already read and checked by the caller: `moeq publish` reads
 * the folder's report.json with @moeq/eval (`readReport` + `gateVerdict`), failing closed on a missing,
 * truncated or unknown report, and hands the verdict over. The Hub package itself parses no report.
 */
export interface PublishGate {
  readonly passed: boolean;
  /** The gates as a Markdown table, shown in the model card. */
  readonly table: string;
  /** One line per failed gate, e.g. "kld_mean: 0.2 <= 0.05 is false". */
  readonly failures: readonly string[];
  /** The report the verdict came from. */
  readonly file: string;
}
