import { availableParallelism } from "node:os";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Argv, CommandModule } from "yargs";
import cliProgress from "cli-progress";
import { InputError } from "@moeq/formats";
import {
  ENGINES,
  compactResults,
  ensureBaseLogits,
  flatMetrics,
  formatKld,
  formatPerplexity,
  openEvalModel,
  runDocVqaTask,
  runKldTask,
  runMmluTask,
  runPplTask,
  writeReport,
  type EngineName,
  type EvalModel,
  type EvalResults,
  type TaskProgress,
} from "@moeq/eval";

const TASKS = ["ppl", "kld", "mmlu", "docvqa"] as const;

interface EvalArgs {
  model: string;
  task: (typeof TASKS)[number];
  data?: string;
  ctx?: number;
  chunks?: number;
  base?: string;
  "kld-base"?: string;
  limit?: number;
  subjects?: string;
  seed?: number;
  k: number;
  "fewshot-data"?: string;
  json: boolean;
  engine: EngineName;
  threads?: number;
  report?: string;
}

/** One progress bar per task on stderr (cli-progress draws nothing when stderr is not a TTY). */
export function taskProgressBar(): { onProgress: TaskProgress; stop: () => void } {
  // cli-progress cannot redraw on a pipe (it prints the unfilled format once), so like pull/publish stay quiet there.
  if (!process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bars = new cliProgress.MultiBar(
    { format: "{task} [{bar}] {value}/{total}", stream: process.stderr, hideCursor: false, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const byTask = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress: (task, done, total) => {
      let bar = byTask.get(task);
      if (!bar) {
        bar = bars.create(total, 0, { task: task.padEnd(6) });
        byTask.set(task, bar);
      }
      bar.update(done);
    },
    stop: () => bars.stop(),
  };
}

/** Reads an optional JSON array input (quant sweep, per-expert errors) and checks each row's fields. */
export function readJsonRows<T>(path: string | undefined, fields: Record<string, "number" | "string">): T[] | undefined {
  if (!path) return undefined;
  let rows: unknown;
  try {
    rows = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new InputError("BAD_JSON", `cannot read JSON: ${(err as Error).message}`, { file: path, cause: err });
  }
  if (!Array.isArray(rows)) throw new InputError("BAD_JSON", "expected a JSON array", { file: path });
  rows.forEach((r, i) => {
    for (const [k, t] of Object.entries(fields)) {
      if (typeof (r as Record<string, unknown>)?.[k] !== t) throw new InputError("BAD_JSON", `row ${i}: "${k}" must be a ${t}`, { file: path });
    }
  });
  return rows as T[];
}

export const QUANT_POINT_FIELDS = { label: "string", sizeBytes: "number" } as const;
export const EXPERT_ERROR_FIELDS = { layer: "number", expert: "number", tensor: "string", rmse: "number" } as const;

function needData(argv: EvalArgs): string {
  if (!argv.data) throw new InputError("USAGE", `--task ${argv.task} needs --data <file>`);
  return argv.data;
}

function formatHuman(r: EvalResults): string {
  const out: string[] = [];
  if (r.basePpl) out.push(`base: ${formatPerplexity(r.basePpl)}`);
  if (r.ppl) out.push(formatPerplexity(r.ppl));
  if (r.kld) out.push(formatKld(r.kld));
  if (r.mmlu) {
    out.push(`MMLU ${r.mmlu.k}-shot: acc = ${r.mmlu.acc.toFixed(4)} ± ${r.mmlu.accStderr.toFixed(4)} (${r.mmlu.correct}/${r.mmlu.n})`);
    for (const [s, a] of Object.entries(r.mmlu.bySubject)) out.push(`  ${s.padEnd(40)} ${a.acc.toFixed(4)}  (${a.correct}/${a.n})`);
  }
  if (r.docvqa) out.push(`DocVQA: ANLS = ${r.docvqa.anls.toFixed(4)} ± ${r.docvqa.anlsStderr.toFixed(4)} (${r.docvqa.n} questions)`);
  return out.join("\n") + "\n";
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: "eval <model>",
  describe: "Measure one thing: perplexity, KL divergence vs a base model, MMLU accuracy or DocVQA ANLS",
  builder: (y: Argv<object>) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "GGUF file or HF checkpoint directory" })
      .option("task", { choices: TASKS, demandOption: true, describe: "what to measure" })
      .option("data", { type: "string", describe: "text corpus (ppl, kld), cais/mmlu or lmms-lab/DocVQA parquet / jsonl" })
      .option("ctx", { type: "number", describe: "ppl/kld window n_ctx (default 512, as llama-perplexity)" })
      .option("chunks", { type: "number", describe: "ppl/kld: evaluate at most N chunks" })
      .option("base", { type: "string", describe: "kld: base model, or an existing llama.cpp .kld base-logits file" })
      .option("kld-base", {
        type: "string",
        describe: "kld: base-logits file to reuse, or to write from --base when missing; ppl: write it (llama.cpp .kld format)",
      })
      .option("limit", { type: "number", describe: "mmlu: questions per subject; docvqa: questions (seeded sample)" })
      .option("subjects", { type: "string", describe: "mmlu: comma-separated subjects" })
      .option("seed", { type: "number", describe: "subset sampling seed (default 1234)" })
      .option("k", { type: "number", default: 5, describe: "mmlu: few-shot examples from the dev split" })
      .option("fewshot-data", { type: "string", describe: "mmlu: dev split (default: dev-*.parquet next to --data)" })
      .option("engine", { choices: ENGINES, default: "moeq" as EngineName, describe: "moeq runtime or llama.cpp (GGUF only)" })
      .option("threads", { type: "number", default: availableParallelism(), describe: "CPU threads, same for both engines (default: the machine's cores)" })
      .option("report", { type: "string", describe: "also write report.json / report.md / report.html here" })
      .option("json", { type: "boolean", default: false, describe: "machine-readable JSON on stdout" }) as unknown as Argv<EvalArgs>,
  handler: async (argv) => {
    const engine = argv.engine;
    const open = (path: string) => openEvalModel(path, { engine, threads: argv.threads });
    // Validate inputs before loading anything heavy.
    if (argv.data && !existsSync(argv.data)) throw new InputError("DATA_NOT_FOUND", "data file not found", { file: argv.data });
    let baseLogits: string | undefined;
    let openBase: (() => Promise<EvalModel>) | undefined;
    if (argv.task === "kld") {
      if (argv.base?.endsWith(".kld")) baseLogits = argv.base;
      else {
        baseLogits = argv["kld-base"] ?? join(tmpdir(), `moeq-base-${process.pid}.kld`);
        if (argv.base) openBase = () => open(argv.base as string);
      }
      if (!existsSync(baseLogits) && !openBase) throw new InputError("USAGE", "--task kld needs --base <model> or an existing --kld-base / --base <file.kld>");
    }
    const progress = taskProgressBar();
    const results: EvalResults = {};
    try {
      if (argv.task === "kld" && baseLogits) {
        results.basePpl = await ensureBaseLogits(baseLogits, { data: argv.data, ctx: argv.ctx, chunks: argv.chunks }, openBase, progress.onProgress);
      }
      const model = await open(argv.model);
      try {
        switch (argv.task) {
          case "ppl":
            results.ppl = await runPplTask(model, { data: needData(argv), ctx: argv.ctx, chunks: argv.chunks }, progress.onProgress, argv["kld-base"]);
            break;
          case "kld":
            results.kld = await runKldTask(model, baseLogits as string, { chunks: argv.chunks }, progress.onProgress);
            break;
          case "mmlu":
            results.mmlu = await runMmluTask(
              model,
              {
                data: needData(argv),
                fewshotData: argv["fewshot-data"],
                k: argv.k,
                limit: argv.limit,
                subjects: argv.subjects
                  ?.split(",")
                  .map((s) => s.trim())
                  .filter(Boolean),
                seed: argv.seed,
              },
              progress.onProgress,
            );
            break;
          case "docvqa":
            results.docvqa = await runDocVqaTask(model, { data: needData(argv), limit: argv.limit, seed: argv.seed }, progress.onProgress);
            break;
        }
      } finally {
        await model.close();
      }
    } finally {
      progress.stop();
    }
    if (argv.report) {
      writeReport(argv.report, {
        schema: 1,
        model: argv.model,
        base: argv.base,
        engine,
        createdAt: new Date().toISOString(),
        results: compactResults(results),
        metrics: flatMetrics(results),
      });
    }
    process.stdout.write(
      argv.json
        ? JSON.stringify({ task: argv.task, model: argv.model, engine, metrics: flatMetrics(results), results: compactResults(results) }, null, 2) + "\n"
        : formatHuman(results),
    );
  },
};
