import type { Argv, CommandModule } from "yargs";
import { convertToAwq } from "@moeq/convert";
import { progressReporter } from "./quantize.js";
import { parseByteSize } from "./fp8.js";

interface AwqArgs {
  dir: string;
  output: string;
  data?: string;
  bits: number;
  "group-size": number;
  "zero-point": boolean;
  rtn: boolean;
  ctx: number;
  windows?: number;
  "max-shard-size": string;
  json: boolean;
}

export const awqCommand: CommandModule<object, AwqArgs> = {
  command: "awq <dir>",
  describe: "Hugging Face Llama 4 checkpoint → AWQ int4 checkpoint in the AutoAWQ GEMM layout (vLLM / Transformers)",
  builder: (y: Argv) =>
    y
      .positional("dir", { type: "string", demandOption: true, describe: "HF checkpoint directory (config.json, *.safetensors, tokenizer.json)" })
      .option("output", { alias: "o", type: "string", demandOption: true, describe: "output folder (must not exist or be empty; written to a temp folder, then renamed)" })
      .option("data", { type: "string", describe: "calibration text (required unless --rtn)" })
      .option("bits", { type: "number", default: 4, describe: "bits per weight (the GEMM layout packs 4)" })
      .option("group-size", { type: "number", default: 128, describe: "inputs per scale group; must divide every quantized Linear's input width" })
      .option("zero-point", { type: "boolean", default: true, describe: "asymmetric groups with zero points (--no-zero-point: symmetric, zero 8)" })
      .option("rtn", { type: "boolean", default: false, describe: "round-to-nearest baseline in the same layout (no scale or clip search, no calibration)" })
      .option("ctx", { type: "number", default: 256, describe: "calibration window in tokens" })
      .option("windows", { type: "number", describe: "use at most N calibration windows" })
      .option("max-shard-size", { type: "string", default: "5GB", describe: "start a new safetensors shard past this size" })
      .option("json", { type: "boolean", default: false, describe: "print a JSON summary on stdout" }) as unknown as Argv<AwqArgs>,
  handler: async (a) => {
    const progress = progressReporter(!a.json || process.stderr.isTTY === true, a.rtn ? "rtn" : "awq");
    let s;
    try {
      s = await convertToAwq(a.dir, a.output, {
        bits: a.bits,
        groupSize: a["group-size"],
        zeroPoint: a["zero-point"],
        rtn: a.rtn,
        data: a.data,
        ctx: a.ctx,
        maxWindows: a.windows,
        maxShardBytes: parseByteSize("--max-shard-size", a["max-shard-size"]),
        onLayer: (i, n) => progress.onTensor(i, n, `layer ${i}`),
      });
    } finally {
      progress.stop();
    }
    if (a.json) process.stdout.write(JSON.stringify(s) + "\n");
    else {
      process.stderr.write(`moeq: wrote ${a.output}: ${s.quantizedMatrices} int${s.bits} matrices (${s.method}, g${s.groupSize}), ${(s.outputBytes / 2 ** 20).toFixed(2)} MiB, ${s.bitsPerWeight.toFixed(2)} bpw (text model), ${s.seconds.toFixed(1)} s\n`);
      if (s.expertsWithoutTokens.length) process.stderr.write(`moeq: no calibration tokens reached ${s.expertsWithoutTokens.join(", ")}: plain round-to-nearest for their down_proj\n`);
    }
  },
};
