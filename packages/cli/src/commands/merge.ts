import type { Argv, CommandModule } from "yargs";
import { mergeShards } from "@moeq/convert";
import { type JsonSummaryArgs, jsonSummaryOption } from "./shared-options.js";

interface MergeArgs extends JsonSummaryArgs {
  shards: string[];
  output: string;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: "merge <shards..>",
  describe: "assemble the shard files of a `--shard i/N` run (convert, quantize, imatrix, gptq, awq, fp8) into the output, byte-identical to the unsharded run",
  builder: (y: Argv) =>
    jsonSummaryOption(
      y
        .positional("shards", { type: "string", array: true, demandOption: true, describe: "every <out>.shard-i-of-N file of one run, in any order" })
        .option("output", { alias: "o", type: "string", demandOption: true, describe: "output file or folder (written to a temp name, fsynced, renamed)" }),
    ).epilogue(
      "Refused with exit 2, nothing written: a missing or duplicate shard, shards of different runs (inputs or options differ), a truncated or corrupted shard file.",
    ) as unknown as Argv<MergeArgs>,
  handler: async (a) => {
    const s = await mergeShards(a.shards, a.output);
    if (a.json) process.stdout.write(JSON.stringify(s) + "\n");
    else process.stderr.write(`moeq: merged ${s.shards} shards into ${s.output}: ${(s.bytes / 2 ** 20).toFixed(2)} MiB, ${s.seconds.toFixed(1)} s\n`);
  },
};
