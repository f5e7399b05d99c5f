import { availableParallelism } from "node:os";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { CheckFailedError, InputError } from "@moeq/formats";
import { imatrixFileExpertReport, readImatrixRaw } from "@moeq/convert";
import {
  ENGINES,
  compactResults,
  loadGateFile,
  openEvalModel,
  runGate,
  writeReport,
  type EngineName,
  type EvalReport,
  type ExpertError,
  type GateOutcome,
  type QuantPoint,
} from "@moeq/eval";
import { EXPERT_ERROR_FIELDS, QUANT_POINT_FIELDS, readJsonRows, taskProgressBar } from "./eval.js";

interface GateArgs {
  model: string;
  gate: string;
  base?: string;
  report?: string;
  engine: EngineName;
  threads?: number;
  json: boolean;
  sweep?: string;
  "expert-errors"?: string;
  imatrix?: string;
}

const num = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)).toString() : String(v));

/** The gate table `moeq gate` prints. */
export function formatGateTable(outcomes: readonly GateOutcome[]): string {
  const rows = [
    ["gate", "actual", "op", "threshold", "basis", "result"],
    ...outcomes.map((o) => [o.metric, num(o.actual), o.op, num(o.threshold), o.basis, o.pass ? "pass" : "FAIL"]),
  ];
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(w[i]))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

export const gateCommand: CommandModule<object, GateArgs> = {
  command: "gate <model>",
  describe: "Run the tasks of a gate file and check its thresholds: exit 0 all pass, 1 a gate failed, 2 bad input",
  builder: (y: Argv<object>) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "GGUF file or HF checkpoint directory" })
      .option("gate", { type: "string", demandOption: true, describe: "gate file (YAML or JSON)" })
      .option("base", { type: "string", describe: "base model for relative gates (ppl_ratio, kld_*, same_top_p), or a llama.cpp .kld file" })
      .option("report", { type: "string", describe: "write report.json / report.md / report.html into this folder" })
      .option("engine", { choices: ENGINES, default: "moeq" as EngineName, describe: "moeq runtime or llama.cpp (GGUF only)" })
      .option("threads", { type: "number", default: availableParallelism(), describe: "CPU threads, same for both engines (default: the machine's cores)" })
      .option("sweep", { type: "string", describe: "JSON [{label, sizeBytes, ppl?, kldMean?, sameTopP?}] for the quality-vs-size plot" })
      .option("expert-errors", { type: "string", describe: "JSON [{layer, expert, tensor, rmse}] from the converter, for the heatmap" })
      .option("imatrix", { type: "string", describe: "the imatrix the model was quantized with (e.g. from `moeq imatrix`), for the tokens-per-expert heatmap" })
      .option("json", { type: "boolean", default: false, describe: "machine-readable JSON on stdout" }) as unknown as Argv<GateArgs>,
  handler: async (argv) => {
    // Bad input (gate file, side inputs) fails with exit 2 before any model is loaded.
    const gate = loadGateFile(argv.gate);
    const quantSweep = readJsonRows<QuantPoint>(argv.sweep, QUANT_POINT_FIELDS);
    const expertErrors = readJsonRows<ExpertError>(argv["expert-errors"], EXPERT_ERROR_FIELDS);
    const expertTokens = argv.imatrix ? imatrixFileExpertReport(await readImatrixRaw(argv.imatrix)).layers : undefined;
    const open = (path: string) => openEvalModel(path, { engine: argv.engine, threads: argv.threads });
    const baseIsLogits = argv.base?.endsWith(".kld") ?? false;
    if (baseIsLogits && !existsSync(argv.base as string)) throw new InputError("KLD_NOT_FOUND", "base logits file not found", { file: argv.base });
    if (argv.base && !baseIsLogits && !existsSync(argv.base)) throw new InputError("MODEL_NOT_FOUND", "base model not found", { file: argv.base });
    if (baseIsLogits && gate.tasks.kld) gate.tasks.kld.baseLogits = argv.base;
    if (argv.report) mkdirSync(argv.report, { recursive: true });
    const model = await open(argv.model);
    const progress = taskProgressBar();
    let run;
    try {
      run = await runGate(model, gate, {
        openBase: argv.base && !baseIsLogits ? () => open(argv.base as string) : undefined,
        baseLogitsOut: argv.report ? join(argv.report, "base.kld") : join(tmpdir(), `moeq-base-${process.pid}.kld`),
        onProgress: progress.onProgress,
      });
    } finally {
      progress.stop();
      await model.close();
    }
    const report: EvalReport = {
      schema: 1,
      model: argv.model,
      base: argv.base,
      engine: argv.engine,
      createdAt: new Date().toISOString(),
      gateFile: argv.gate,
      results: compactResults(run.results),
      metrics: run.metrics,
      gates: run.outcomes,
      passed: run.passed,
      quantSweep,
      expertErrors,
      expertTokens,
    };
    if (argv.report) writeReport(argv.report, report);
    if (argv.report) process.stderr.write(`moeq: report written to ${argv.report}/report.{json,md,html}\n`);
    process.stdout.write(argv.json ? JSON.stringify(report, null, 2) + "\n" : formatGateTable(run.outcomes));
    const failed = run.outcomes.filter((o) => !o.pass);
    if (failed.length) {
      throw new CheckFailedError(
        "GATE_FAILED",
        `${failed.length} of ${run.outcomes.length} gates failed: ${failed.map((o) => `${o.metric} ${num(o.actual)} ${o.op} ${num(o.threshold)}`).join("; ")}`,
        {
          file: argv.gate,
        },
      );
    }
  },
};
