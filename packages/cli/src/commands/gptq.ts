import type { Argv, CommandModule } from "yargs";
import { InputError } from "@moeq/formats";
import { gptqConvert } from "@moeq/convert";
import {
  type CheckpointToOutputArgs,
  type JsonSummaryArgs,
  type ShardArgs,
  hfCheckpointToOutput,
  jsonSummaryOption,
  progressShown,
  shardFromArgs,
  shardOption,
  withProgress,
} from "./shared-options.js";

/** What --shard deals out in `moeq gptq`. */
export const GPTQ_SHARD_UNIT =
  "one Linear (an expert's gate/up/down, q/k/v/o, a shared or dense projection) within each decoder layer, dealt longest-first by solve cost " +
  "(cols²·(cols + rows)); layer L+1 needs all of quantized layer L, so the N shards meet after each layer in <output>.parts/ " +
  "(a shared folder; every shard also runs the calibration forward passes) and wait up to --shard-timeout for each other";

interface GptqArgs extends CheckpointToOutputArgs, JsonSummaryArgs, ShardArgs {
  "shard-timeout": number;
  data?: string;
  rtn: boolean;
  bits: number;
  "group-size": number;
  "desc-act": boolean;
  "static-groups": boolean;
  sym: boolean;
  damp: number;
  nsamples: number;
  seqlen: number;
  exclude?: string[];
  "min-expert-tokens"?: number;
  threads: number;
}

export const gptqCommand: CommandModule<object, GptqArgs> = {
  command: "gptq <dir>",
  describe: "Hugging Face Llama 4 checkpoint → GPTQ v1 safetensors (per-expert Hessians from routed tokens) for vLLM / Transformers",
  builder: (y: Argv) =>
    jsonSummaryOption(
      shardOption(hfCheckpointToOutput(y, "output folder (built in <output>.partial, renamed when complete)"), GPTQ_SHARD_UNIT)
        .option("shard-timeout", { type: "number", default: 86400, describe: "with --shard: seconds to wait at a layer barrier for the other shards" })
        .option("data", { type: "string", describe: "calibration text file (required unless --rtn)" })
        .option("rtn", { type: "boolean", default: false, describe: "round-to-nearest on the same format, no calibration (GPTQ's baseline)" })
        .option("bits", { type: "number", default: 4, describe: "2, 3, 4 or 8" })
        .option("group-size", { type: "number", default: 128, describe: "input columns per scale/zero group; -1 = one group per row" })
        .option("desc-act", { type: "boolean", default: false, describe: "activation order: quantize columns by decreasing Hessian diagonal" })
        .option("static-groups", { type: "boolean", default: false, describe: "group scales from the un-updated weights (g_idx monotonic with --desc-act)" })
        .option("sym", { type: "boolean", default: false, describe: "symmetric grid (zero fixed at 2^(bits-1); what vLLM's Marlin kernels need)" })
        .option("damp", { type: "number", default: 0.01, describe: "damping, a fraction of the Hessian's mean diagonal (raised if a Cholesky fails)" })
        .option("nsamples", { type: "number", default: 128, describe: "calibration windows" })
        .option("seqlen", { type: "number", default: 512, describe: "tokens per calibration window" })
        .option("exclude", { type: "string", array: true, describe: "regular expression on HF module names to keep BF16, repeatable (e.g. 'self_attn')" })
        .option("threads", { type: "number", default: 1, describe: "worker threads solving experts / Linears in parallel (bytes do not depend on it)" })
        .option("min-expert-tokens", {
          type: "number",
          describe: "routed experts with fewer calibration tokens use round-to-nearest (default 0.5 % of nsamples × seqlen)",
        }),
    ).epilogue(
      "Router, norms, embeddings, lm_head and the vision tower stay BF16. <output>/gptq-report.json lists every Linear with its " +
        "calibration tokens and GPTQ vs round-to-nearest error, the experts that fell back to RTN, and the tensors not converted. " +
        "A killed run resumes at the next layer when rerun with the same arguments. For vLLM, add --sym (Marlin kernels) and " +
        "--exclude self_attn: vLLM permutes q/k rows for RoPE only for tensors named `weight`, so GPTQ q/k_proj load with the wrong rotation there.",
    ) as unknown as Argv<GptqArgs>,
  handler: async (a) => {
    for (const [flag, v] of [
      ["--bits", a.bits],
      ["--group-size", a["group-size"]],
      ["--nsamples", a.nsamples],
      ["--seqlen", a.seqlen],
    ] as const) {
      if (!Number.isInteger(v)) throw new InputError("BAD_ARG", `${flag} must be an integer, got ${v}`);
    }
    if (!a.rtn && !a.data) throw new InputError("USAGE", "--data <calibration text> is required (or --rtn for round-to-nearest)");
    if (!(a["shard-timeout"] > 0)) throw new InputError("BAD_ARG", `--shard-timeout must be a positive number of seconds, got ${a["shard-timeout"]}`);
    const shard = shardFromArgs(a);
    const s = await withProgress(progressShown(a.json), "gptq", (onTensor) =>
      gptqConvert(a.dir, a.output, a.data ?? null, {
        rtn: a.rtn,
        bits: a.bits,
        groupSize: a["group-size"],
        descAct: a["desc-act"],
        staticGroups: a["static-groups"],
        sym: a.sym,
        damp: a.damp,
        nsamples: a.nsamples,
        seqlen: a.seqlen,
        exclude: a.exclude,
        minExpertTokens: a["min-expert-tokens"],
        threads: a.threads,
        shard,
        shardTimeoutMs: a["shard-timeout"] * 1000,
        onProgress: (done, total, label) => onTensor(done - 1, total, label),
      }),
    );
    const linears = s.report.layers.flatMap((l) => l.linears);
    const summary = {
      input: a.dir,
      output: s.shardFile ?? s.output,
      bytes: s.totalBytes,
      resumedLayers: s.resumedLayers,
      threads: s.threadsUsed,
      gptq: linears.filter((r) => r.method === "gptq").length,
      rtnFallbacks: s.report.fallbacks.map((f) => f.module),
      notConverted: s.report.notConverted.length,
    };
    if (a.json) process.stdout.write(JSON.stringify(summary) + "\n");
    else {
      process.stderr.write(
        `moeq: wrote ${s.shardFile ?? s.output}: ${(s.totalBytes / 2 ** 20).toFixed(2)} MiB, ${summary.gptq} Linears by GPTQ, ${summary.rtnFallbacks.length} experts by RTN (too few tokens), ${summary.notConverted} tensors kept as they were\n`,
      );
      for (const f of s.report.fallbacks) process.stderr.write(`moeq: RTN fallback: ${f.module} (${f.tokens} routed tokens)\n`);
    }
  },
};
