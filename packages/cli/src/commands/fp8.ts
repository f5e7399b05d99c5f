import type { Argv, CommandModule } from "yargs";
import { InputError } from "@moeq/formats";
import { FP8_SCHEMES, type Fp8Scheme } from "@moeq/quant";
import { convertToFp8 } from "@moeq/convert";
import {
  type CalibratedSafetensorsArgs,
  calibratedSafetensorsOptions,
  hfCheckpointToOutput,
  progressShown,
  type ShardArgs,
  reportResume,
  shardFromArgs,
  shardOption,
  withProgress,
} from "./shared-options.js";

/** What --shard deals out in `moeq fp8`. */
export const FP8_SHARD_UNIT = "one Linear or expert matrix (or one tensor copied unchanged), dealt to shards longest-first by output bytes";

interface Fp8Args extends CalibratedSafetensorsArgs, ShardArgs {
  scheme: Fp8Scheme;
  "experts-only": boolean;
  activations: "dynamic" | "static";
  data?: string;
}

const UNITS: Record<string, number> = { "": 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/** "5GB", "500MB", "2GiB" or a plain byte count, as save_pretrained's max_shard_size. */
export function parseByteSize(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(s.trim());
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InputError("USAGE", `${flag} expects a size such as 5GB or 500MB, got "${s}"`);
  return bytes;
}

export const fp8Command: CommandModule<object, Fp8Args> = {
  command: "fp8 <dir>",
  describe: "Hugging Face Llama 4 checkpoint → FP8 E4M3 compressed-tensors checkpoint (vLLM / Transformers)",
  builder: (y: Argv) =>
    calibratedSafetensorsOptions(
      shardOption(hfCheckpointToOutput(y), FP8_SHARD_UNIT)
        .option("scheme", { choices: FP8_SCHEMES, demandOption: true, describe: "weight scales: one per tensor, per output channel, or per 128×128 block" })
        .option("experts-only", {
          type: "boolean",
          default: false,
          describe: "quantize only the routed experts; attention, shared expert and dense FFNs stay BF16",
        })
        .option("activations", {
          choices: ["dynamic", "static"] as const,
          default: "dynamic" as const,
          describe: "activation scales: per token at run time, or calibrated input_scale (per-tensor only, needs --data)",
        })
        .option("data", { type: "string", describe: "calibration text for --activations static" }),
    ) as unknown as Argv<Fp8Args>,
  handler: async (a) => {
    const shard = shardFromArgs(a);
    const s = await withProgress(progressShown(a.json), "fp8", (onTensor) =>
      convertToFp8(a.dir, a.output, {
        scheme: a.scheme,
        expertsOnly: a["experts-only"],
        activations: a.activations,
        data: a.data,
        ctx: a.ctx,
        maxWindows: a.windows,
        maxShardBytes: parseByteSize("--max-shard-size", a["max-shard-size"]),
        onTensor,
        onResume: reportResume,
        shard,
      }),
    );
    if (a.json) process.stdout.write(JSON.stringify(s) + "\n");
    else {
      process.stderr.write(
        `moeq: wrote ${s.output}: ${s.quantizedMatrices} FP8 matrices (${s.scheme}, ${s.activations} activations), ` +
          `${(s.outputBytes / 2 ** 20).toFixed(2)} MiB, ${s.bitsPerWeight.toFixed(2)} bpw (text model), ${s.seconds.toFixed(1)} s\n`,
      );
      if (s.calibration?.expertFallbacks.length) {
        process.stderr.write(
          `moeq: no calibration tokens reached ${s.calibration.expertFallbacks.length} expert(s); they use their layer's largest input scale: ${s.calibration.expertFallbacks.join(", ")}\n`,
        );
      }
    }
  },
};
