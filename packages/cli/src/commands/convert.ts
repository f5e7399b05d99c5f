import { availableParallelism } from "node:os";
import type { Argv, CommandModule } from "yargs";
import { FTYPE_NAMES, parseFType, convertHfToGguf, shardFilePath } from "@moeq/convert";
import { GGUF_SHARD_UNIT, type QuantizerArgs, quantizerFlags } from "./quantize.js";
import {
  type CheckpointToOutputArgs,
  type JsonSummaryArgs,
  type ShardArgs,
  hfCheckpointToOutput,
  progressShown,
  reportResume,
  shardFromArgs,
  shardOption,
  withProgress,
} from "./shared-options.js";

interface ConvertArgs extends CheckpointToOutputArgs, QuantizerArgs, JsonSummaryArgs, ShardArgs {
  outtype: string;
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: "convert <dir>",
  describe: "Hugging Face Llama 4 checkpoint → GGUF (as llama.cpp's convert_hf_to_gguf.py writes it)",
  builder: (y: Argv) =>
    shardOption(hfCheckpointToOutput(y, "output GGUF file"), GGUF_SHARD_UNIT)
      .option("outtype", {
        type: "string",
        default: "f16",
        describe: `f32|f16|bf16|q8_0 write the converter's output; any other file type (${FTYPE_NAMES.filter((n) => !["F32", "F16", "BF16", "Q8_0"].includes(n)).join(", ")}) writes what \`convert --outtype f16\` + \`quantize\` would`,
      })
      .option("threads", { type: "number", default: availableParallelism(), describe: "worker threads (default: the cores; bytes do not depend on it)" })
      .option("pure", { type: "boolean", default: false, describe: "quantized file types: every quantizable tensor at the default type" })
      .option("output-tensor-type", { type: "string", describe: "quantized file types: type for output.weight" })
      .option("token-embedding-type", { type: "string", describe: "quantized file types: type for token_embd.weight" })
      .option("tensor-type", { type: "string", array: true, describe: "quantized file types: PATTERN=TYPE override, repeatable" })
      .option("expert-errors", { type: "string", describe: "write per-expert RMSE [{layer, expert, tensor, rmse}] as JSON (for `moeq gate --expert-errors`)" })
      .option("imatrix", {
        type: "string",
        describe: "quantized file types: llama.cpp importance matrix (GGUF imatrix, e.g. from `moeq imatrix`, or legacy .dat)",
      })
      .option("json", { type: "boolean", default: false, describe: "print a JSON summary on stdout" })
      .epilogue(
        "The text model goes to -o. When the checkpoint has a vision tower, its projector is also written as mmproj-<name>.gguf next to it " +
          "(e.g. -o out/x.gguf also writes out/mmproj-x.gguf), as llama.cpp's converter does with --mmproj.",
      ) as unknown as Argv<ConvertArgs>,
  handler: async (a) => {
    const outtype = parseFType(a.outtype);
    const flags = quantizerFlags(a);
    const shard = shardFromArgs(a);
    const s = await withProgress(progressShown(a.json), "convert", (onTensor) =>
      convertHfToGguf(a.dir, a.output, { outtype, onTensor, ...flags, shard, onResume: reportResume }),
    );
    const written = shard ? shardFilePath(a.output, shard) : a.output;
    const summary = {
      input: a.dir,
      output: written,
      outtype: a.outtype.toUpperCase(),
      outputBytes: s.outputBytes,
      bitsPerWeight: Number(s.bitsPerWeight.toFixed(4)),
      seconds: Number(s.seconds.toFixed(3)),
      resumedUnits: s.resumedUnits,
      mmproj: s.mmproj,
      tensors: s.tensors,
      expertErrors: a["expert-errors"] ? { file: a["expert-errors"], rows: s.expertErrors?.length ?? 0 } : undefined,
    };
    if (a.json) process.stdout.write(JSON.stringify(summary) + "\n");
    else {
      process.stderr.write(
        `moeq: wrote ${written}: ${(s.outputBytes / 2 ** 20).toFixed(2)} MiB, ${s.bitsPerWeight.toFixed(2)} bpw, ${s.seconds.toFixed(1)} s\n`,
      );
      if (s.mmproj) process.stderr.write(`moeq: wrote ${s.mmproj.output}: ${(s.mmproj.outputBytes / 2 ** 20).toFixed(2)} MiB (vision projector)\n`);
    }
  },
};
