import type { Argv } from "yargs";
import cliProgress from "cli-progress";
import { InputError } from "@moeq/formats";
import { parseShardSpec, type ResumeNote, type ShardSpec } from "@moeq/convert";

// Option declarations and the handler prologue that several commands share word for word: one definition each,
// so a flag reads and behaves the same in every command that takes it.

/** The arguments hfCheckpointToOutput declares. */
export interface CheckpointToOutputArgs {
  dir: string;
  output: string;
}

/** The argument jsonSummaryOption declares. */
export interface JsonSummaryArgs {
  json: boolean;
}

/** `--threads` (checked by checkThreads). */
export interface ThreadsArgs {
  threads: number;
}

/** The arguments of a checkpoint → safetensors folder command: hfCheckpointToOutput's and calibratedSafetensorsOptions'. */
export interface CalibratedSafetensorsArgs extends CheckpointToOutputArgs, JsonSummaryArgs {
  ctx: number;
  windows?: number;
  "max-shard-size": string;
}

/** What `--output` means for the commands that write a safetensors folder through a temp folder. */
const FRESH_OUTPUT_FOLDER = "output folder (must not exist or be empty; written to a temp folder, then renamed)";

/**
 * `<dir>` (an HF checkpoint) and the required `-o/--output`, as the checkpoint → checkpoint/GGUF commands take them
 * (`outputDescribe` by default: a folder written through a temp folder).
 */
export function hfCheckpointToOutput(y: Argv, outputDescribe = FRESH_OUTPUT_FOLDER): Argv {
  return y
    .positional("dir", { type: "string", demandOption: true, describe: "HF checkpoint directory (config.json, *.safetensors, tokenizer.json)" })
    .option("output", { alias: "o", type: "string", demandOption: true, describe: outputDescribe });
}

/** `--json`: the one-line JSON summary on stdout instead of the human line on stderr. */
export function jsonSummaryOption(y: Argv): Argv {
  return y.option("json", { type: "boolean", default: false, describe: "print a JSON summary on stdout" });
}

/** `--threads` must be a positive integer (InputError otherwise: exit 2). */
export function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new InputError("BAD_THREADS", `--threads must be a positive integer, got ${threads}`);
}

/** The calibration window, shard size and `--json` tail of the safetensors writers (fp8, awq). */
export function calibratedSafetensorsOptions(y: Argv): Argv {
  return jsonSummaryOption(
    y
      .option("ctx", { type: "number", default: 256, describe: "calibration window in tokens" })
      .option("windows", { type: "number", describe: "use at most N calibration windows" })
      .option("max-shard-size", { type: "string", default: "5GB", describe: "start a new safetensors shard past this size" }),
  );
}

type OnTensor = (i: number, n: number, name: string) => void;

export function progressReporter(enabled: boolean, label: string): { onTensor: (i: number, n: number, name: string) => void; stop: () => void } {
  if (!enabled) return { onTensor: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {name}`, stream: process.stderr, hideCursor: false, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onTensor: (i, n, name) => {
      if (!started) {
        bar.start(n, 0, { name: "" });
        started = true;
      }
      bar.update(i + 1, { name });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Whether a command with `--json` shows its progress bar: always without it, on a terminal with it (the bar is on stderr). */
export function progressShown(json: boolean): boolean {
  return !json || process.stderr.isTTY === true;
}

/** Runs `work` with a progress bar named `label` on stderr (when `enabled`), stopped however `work` ends. */
export async function withProgress<T>(enabled: boolean, label: string, work: (onTensor: OnTensor) => Promise<T>): Promise<T> {
  const progress = progressReporter(enabled, label);
  try {
    return await work(progress.onTensor);
  } finally {
    progress.stop();
  }
}

/** `--shard` (parsed by shardFromArgs). */
export interface ShardArgs {
  shard?: string;
}

/**
 * `--shard i/N|auto`: do one fixed, balanced part of the work and write `<output>.shard-i-of-N` for `moeq merge`.
 * `unit` says what is dealt out and how it is balanced, for the help text.
 */
export function shardOption(y: Argv, unit: string): Argv {
  return y.option("shard", {
    type: "string",
    describe:
      `do shard i of N (1-based) and write <output>.shard-i-of-N; \`moeq merge\` assembles the output byte-identical to an unsharded run. ` +
      `Unit: ${unit}. auto reads JOB_COMPLETION_INDEX (Kubernetes), SLURM_ARRAY_TASK_ID (Slurm) or MOEQ_SHARD_INDEX, with N from auto/N, MOEQ_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT`,
  });
}

/** The parsed `--shard`, or undefined without one (InputError, exit 2, on a bad value). */
export function shardFromArgs(a: ShardArgs, env: NodeJS.ProcessEnv = process.env): ShardSpec | undefined {
  return a.shard === undefined ? undefined : parseShardSpec(a.shard, env);
}

/**
 * The stderr line of a resumable command (convert, quantize, fp8) when its `<output>.partial/` held work:
 * "resuming: K/N units done", or that another run's work (other arguments or inputs) was thrown away.
 */
export function reportResume(note: ResumeNote): void {
  if (note.restarted) process.stderr.write(`moeq: ${note.dir} held a run with other arguments or inputs; starting over\n`);
  else if (note.done > 0) process.stderr.write(`moeq: resuming from ${note.dir}: ${note.done}/${note.total} units done\n`);
}
