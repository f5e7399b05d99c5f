import type { Argv, CommandModule } from "yargs";
import { convertToAwq } from "@moeq/convert";
import {
  type CalibratedSafetensorsArgs,
  type ShardArgs,
  calibratedSafetensorsOptions,
  hfCheckpointToOutput,
  progressShown,
  shardFromArgs,
  shardOption,
  withProgress,
} from "./shared-options.js";
import { parseByteSize } from "./fp8.js";

/** What --shard deals out in `moeq awq`. */
export const AWQ_SHARD_UNIT =
  "one decoder layer (or the tensors outside the decoder, or the vision tower), dealt longest-first by elements to quantize plus copied bytes; " +
  "layers are independent (all inputs come from one BF16 pass, which every shard runs), so shards never wait for each other";

interface AwqArgs extends CalibratedSafetensorsArgs, ShardArgs {
  data?: string;
  bits: number;
  "group-size": number;
  "zero-point": boolean;
  rtn: boolean;
}

export const awqCommand: CommandModule<object, AwqArgs> = {
  command: "awq <dir>",
  describe: "Hugging Face Llama 4 checkpoint → AWQ int4 checkpoint in the AutoAWQ GEMM layout (vLLM / Transformers)",
  builder: (y: Argv) =>
    calibratedSafetensorsOptions(
      shardOption(hfCheckpointToOutput(y), AWQ_SHARD_UNIT)
        .option("data", { type: "string", describe: "calibration text (required unless --rtn)" })
        .option("bits", { type: "number", default: 4, describe: "bits per weight (the GEMM layout packs 4)" })
        .option("group-size", { type: "number", default: 128, describe: "inputs per scale group; must divide every quantized Linear's input width" })
        .option("zero-point", { type: "boolean", default: true, describe: "asymmetric groups with zero points (--no-zero-point: symmetric, zero 8)" })
        .option("rtn", { type: "boolean", default: false, describe: "round-to-nearest baseline in the same layout (no scale or clip search, no calibration)" }),
    ) as unknown as Argv<AwqArgs>,
  handler: async (a) => {
    const shard = shardFromArgs(a);
    const s = await withProgress(progressShown(a.json), a.rtn ? "rtn" : "awq", (onTensor) =>
      convertToAwq(a.dir, a.output, {
        bits: a.bits,
        groupSize: a["group-size"],
        zeroPoint: a["zero-point"],
        rtn: a.rtn,
        data: a.data,
        ctx: a.ctx,
        maxWindows: a.windows,
        maxShardBytes: parseByteSize("--max-shard-size", a["max-shard-size"]),
        onLayer: (i, n) => onTensor(i, n, `layer ${i}`),
        shard,
      }),
    );
    if (a.json) process.stdout.write(JSON.stringify(s) + "\n");
    else {
      process.stderr.write(
        `moeq: wrote ${s.shardFile ?? a.output}: ${s.quantizedMatrices} int${s.bits} matrices (${s.method}, g${s.groupSize}), ${(s.outputBytes / 2 ** 20).toFixed(2)} MiB, ${s.bitsPerWeight.toFixed(2)} bpw (text model), ${s.seconds.toFixed(1)} s\n`,
      );
      if (s.expertsWithoutTokens.length)
        process.stderr.write(`moeq: no calibration tokens reached ${s.expertsWithoutTokens.join(", ")}: plain round-to-nearest for their down_proj\n`);
    }
  },
};
