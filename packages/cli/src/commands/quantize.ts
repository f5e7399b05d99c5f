import { availableParallelism } from "node:os";
import type { Argv, CommandModule } from "yargs";
import { InputError, parseGGMLType, GGMLType } from "@moeq/formats";
import { FTYPE_NAMES, parseFType, quantizeGguf, readRecipeItems, type QuantizeGgufOptions } from "@moeq/convert";
import {
  type JsonSummaryArgs,
  type ShardArgs,
  type ThreadsArgs,
  checkThreads,
  progressShown,
  reportResume,
  shardFromArgs,
  shardOption,
  withProgress,
} from "./shared-options.js";

/** What --shard deals out in the GGUF writers (convert, quantize). */
export const GGUF_SHARD_UNIT = "one tensor, dealt to shards longest-first by estimated compute (measured ns per element of its types)";

/** The quantizer flags that quantize and convert share. */
export interface QuantizerArgs extends ThreadsArgs {
  pure: boolean;
  "output-tensor-type"?: string;
  "token-embedding-type"?: string;
  "tensor-type"?: string[];
  imatrix?: string;
  "expert-errors"?: string;
}

interface QuantizeArgs extends QuantizerArgs, JsonSummaryArgs, ShardArgs {
  input: string;
  output: string;
  type: string;
  "leave-output-tensor": boolean;
  recipe?: string;
}

export function ggmlTypeArg(flag: string, v: string): GGMLType {
  const t = parseGGMLType(v);
  if (t === undefined) throw new InputError("BAD_TYPE", `${flag}: unknown ggml type "${v}"`);
  return t;
}

/** `--tensor-type PATTERN=TYPE` as llama-quantize parses it (the pattern is a regex searched in the name). */
export function parseTensorTypeOverrides(items: readonly string[]): { pattern: RegExp; type: GGMLType }[] {
  return items.map((s) => {
    const eq = s.indexOf("="); // first "=", as llama-quantize parse_tensor_type (strchr)
    if (eq <= 0 || eq === s.length - 1) throw new InputError("BAD_TENSOR_TYPE", `--tensor-type expects PATTERN=TYPE, got "${s}"`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(s.slice(0, eq).toLowerCase());
    } catch (e) {
      throw new InputError("BAD_TENSOR_TYPE", `--tensor-type: bad pattern "${s.slice(0, eq)}": ${(e as Error).message}`);
    }
    return { pattern, type: ggmlTypeArg("--tensor-type", s.slice(eq + 1)) };
  });
}

/** QuantizerArgs checked (InputError: exit 2) and parsed into their QuantizeGgufOptions fields. */
export function quantizerFlags(
  a: QuantizerArgs,
): Pick<QuantizeGgufOptions, "threads" | "pure" | "outputTensorType" | "tokenEmbeddingType" | "tensorTypes" | "imatrixPath" | "expertErrorsPath"> {
  checkThreads(a.threads);
  return {
    threads: a.threads,
    pure: a.pure,
    outputTensorType: a["output-tensor-type"] ? ggmlTypeArg("--output-tensor-type", a["output-tensor-type"]) : undefined,
    tokenEmbeddingType: a["token-embedding-type"] ? ggmlTypeArg("--token-embedding-type", a["token-embedding-type"]) : undefined,
    tensorTypes: a["tensor-type"] ? parseTensorTypeOverrides(a["tensor-type"]) : undefined,
    imatrixPath: a.imatrix,
    expertErrorsPath: a["expert-errors"],
  };
}

export const quantizeCommand: CommandModule<object, QuantizeArgs> = {
  command: "quantize <input> <output> <type>",
  describe: "GGUF → GGUF with llama-quantize's per-tensor mixtures (byte-identical to llama_model_quantize)",
  builder: (y: Argv) =>
    shardOption(y, GGUF_SHARD_UNIT)
      .positional("input", { type: "string", demandOption: true, describe: "F32/F16/BF16 GGUF (e.g. from `moeq convert --outtype f16`)" })
      .positional("output", { type: "string", demandOption: true, describe: "output GGUF (written to a temp name, fsynced, renamed)" })
      .positional("type", { type: "string", demandOption: true, describe: `file type: ${FTYPE_NAMES.join(", ")}` })
      .option("imatrix", { type: "string", describe: "llama.cpp importance matrix (GGUF imatrix or legacy .dat)" })
      .option("threads", {
        type: "number",
        default: availableParallelism(),
        describe: "worker threads (default: the machine's cores; output bytes do not depend on it)",
      })
      .option("pure", { type: "boolean", default: false, describe: "every quantizable tensor at the file type's default type" })
      .option("output-tensor-type", { type: "string", describe: "type for output.weight" })
      .option("token-embedding-type", { type: "string", describe: "type for token_embd.weight" })
      .option("tensor-type", { type: "string", array: true, describe: "PATTERN=TYPE override (regex on the tensor name), repeatable" })
      .option("recipe", {
        type: "string",
        describe: "PATTERN=TYPE rules from `moeq recipe` (llama-quantize --tensor-type-file format), after any --tensor-type",
      })
      .option("leave-output-tensor", { type: "boolean", default: false, describe: "do not quantize output.weight" })
      .option("expert-errors", {
        type: "string",
        describe: "write per-expert quantization RMSE [{layer, expert, tensor, rmse}] to this JSON file (for `moeq gate --expert-errors`)",
      })
      .option("json", { type: "boolean", default: false, describe: "print a JSON summary on stdout" }) as unknown as Argv<QuantizeArgs>,
  handler: async (a) => {
    const ftype = parseFType(a.type);
    const flags = quantizerFlags(a);
    const shard = shardFromArgs(a);
    // --recipe rules apply after any --tensor-type rules
    const tensorTypes = a.recipe ? parseTensorTypeOverrides([...(a["tensor-type"] ?? []), ...readRecipeItems(a.recipe)]) : flags.tensorTypes;
    const s = await withProgress(progressShown(a.json), "quantize", (onTensor) =>
      quantizeGguf(a.input, a.output, {
        ftype,
        ...flags,
        tensorTypes,
        quantizeOutputTensor: !a["leave-output-tensor"],
        onTensor,
        shard,
        onResume: reportResume,
      }),
    );
    const summary = {
      input: a.input,
      output: s.shardFile ?? a.output,
      ftype: a.type.toUpperCase(),
      inputBytes: s.inputBytes,
      outputBytes: s.outputBytes,
      bitsPerWeight: Number(s.bitsPerWeight.toFixed(4)),
      seconds: Number(s.seconds.toFixed(3)),
      resumedUnits: s.resumedUnits,
      tensors: s.tensors,
      expertErrors: a["expert-errors"] ? { file: a["expert-errors"], rows: s.expertErrors?.length ?? 0 } : undefined,
    };
    if (a.json) process.stdout.write(JSON.stringify(summary) + "\n");
    else
      process.stderr.write(
        `moeq: wrote ${s.shardFile ?? a.output}: ${(s.outputBytes / 2 ** 20).toFixed(2)} MiB, ${s.bitsPerWeight.toFixed(2)} bpw, ${s.seconds.toFixed(1)} s\n`,
      );
  },
};
