import type { Argv, CommandModule } from "yargs";
import { InputError } from "@moeq/formats";
import { formatImatrixExpertReport, runImatrix } from "@moeq/convert";
import { readCalibrationText } from "@moeq/eval";
import { type JsonSummaryArgs, type ShardArgs, jsonSummaryOption, shardFromArgs, shardOption, withProgress } from "./shared-options.js";

/** What --shard deals out in `moeq imatrix`. */
export const IMATRIX_SHARD_UNIT =
  "one calibration chunk, chunk c (0-based, after --chunk-offset) to shard (c mod N) + 1 (chunks cost the same); each chunk's sums are kept " +
  "on their own and merged in chunk order like llama-imatrix --in-file, byte-identical to an unsharded run with --per-chunk-sums; no --output-frequency checkpoints";

interface ImatrixArgs extends JsonSummaryArgs, ShardArgs {
  model: string;
  data?: string;
  output: string;
  field?: string;
  column?: string;
  ctx: number;
  chunks?: number;
  "chunk-offset": number;
  "process-output": boolean;
  "parse-special": boolean;
  "output-frequency": number;
  "in-file"?: string[];
  threads: number;
  exact: boolean;
  "per-chunk-sums": boolean;
}

function positiveInt(flag: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new InputError("BAD_ARG", `${flag} must be an integer ≥ ${min}, got ${v}`);
}

export const imatrixCommand: CommandModule<object, ImatrixArgs> = {
  command: "imatrix <model>",
  describe: "importance matrix (per expert for MoE layers) over calibration text, in llama-imatrix's GGUF format",
  builder: (y: Argv) =>
    jsonSummaryOption(
      shardOption(y, IMATRIX_SHARD_UNIT)
        .positional("model", { type: "string", demandOption: true, describe: "GGUF model or HF checkpoint directory" })
        .option("data", {
          type: "string",
          describe: "calibration data: plain text, .jsonl (--field) or .parquet (--column); without it, only combine --in-file",
        })
        .option("output", { alias: "o", type: "string", default: "imatrix.gguf", describe: "output GGUF imatrix" })
        .option("field", { type: "string", describe: "string field of each .jsonl row (default text)" })
        .option("column", { type: "string", describe: "string column of a .parquet file (default text)" })
        .option("ctx", { type: "number", default: 512, describe: "tokens per chunk (llama-imatrix -c)" })
        .option("chunks", { type: "number", describe: "chunks to process (default all)" })
        .option("chunk-offset", { type: "number", default: 0, describe: "skip this many chunks first (llama-imatrix --chunk)" })
        .option("process-output", { type: "boolean", default: false, describe: "collect output.weight too" })
        .option("parse-special", { type: "boolean", default: false, describe: "parse special tokens in the text" })
        .option("output-frequency", {
          type: "number",
          default: 1,
          describe: "checkpoint every N chunks to <output>.partial (atomic); a rerun with the same arguments resumes from it (llama-imatrix: 10)",
        })
        .option("in-file", { type: "string", array: true, describe: "combine an earlier imatrix (GGUF or legacy .dat), repeatable" })
        .option("threads", { type: "number", default: 1, describe: "worker threads" })
        .option("exact", { type: "boolean", default: false, describe: "llama.cpp's CPU numerics bit for bit (--no-repack, -fa off); ≈ 9× slower" })
        .option("per-chunk-sums", {
          type: "boolean",
          default: false,
          describe:
            "sum each chunk's x² from zero and add the chunk sums in chunk order, as --shard runs do: the file then equals their merge byte for byte " +
            "(default: llama-imatrix's one running sum, which differs in the last bits)",
        }),
    ) as unknown as Argv<ImatrixArgs>,
  handler: async (a) => {
    positiveInt("--ctx", a.ctx, 1);
    positiveInt("--chunks", a.chunks, 1);
    positiveInt("--chunk-offset", a["chunk-offset"], 0);
    positiveInt("--output-frequency", a["output-frequency"], 1);
    positiveInt("--threads", a.threads, 1);
    const shard = shardFromArgs(a);
    if (shard && a.data === undefined) throw new InputError("USAGE", "--shard needs calibration data (--data); combining --in-file alone is not sharded");
    const text = a.data === undefined ? undefined : await readCalibrationText(a.data, { field: a.field, column: a.column });
    // one bar over the chunks; quiet when stderr is not a terminal (cli-progress cannot redraw on a pipe)
    const s = await withProgress(process.stderr.isTTY === true, "imatrix", (onTensor) =>
      runImatrix({
        model: a.model,
        text,
        dataFile: a.data,
        output: a.output,
        nCtx: a.ctx,
        nChunks: a.chunks,
        chunkOffset: a["chunk-offset"],
        processOutput: a["process-output"],
        parseSpecial: a["parse-special"],
        outputFrequency: a["output-frequency"],
        inFiles: a["in-file"],
        threads: a.threads,
        exact: a.exact,
        perChunkSums: a["per-chunk-sums"],
        shard,
        onChunk: (done, total) => onTensor(done - 1, total, "chunks"),
      }),
    );
    process.stderr.write(formatImatrixExpertReport(s.experts));
    if (a.json) {
      process.stdout.write(JSON.stringify({ ...s, tokensPerSecond: Number(s.tokensPerSecond.toFixed(2)), seconds: Number(s.seconds.toFixed(3)) }) + "\n");
    } else {
      const resumed = s.resumedChunks > 0 ? ` (resumed after ${s.resumedChunks})` : "";
      process.stderr.write(
        `moeq: wrote ${s.shardFile ?? a.output}: ${s.tensors} tensors, ${s.chunks} chunks of ${s.chunkSize}${resumed}, ${s.tokensPerSecond.toFixed(1)} tokens/s\n`,
      );
    }
  },
};
