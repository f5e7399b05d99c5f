import { availableParallelism } from "node:os";
import type { Argv, CommandModule } from "yargs";
import { readFileSync, existsSync } from "node:fs";
import { InputError } from "@moeq/formats";
import { decodeImage, loadModel, logSoftmax, type Llama4Model } from "@moeq/runtime";

interface RunArgs {
  model: string;
  prompt: string;
  image: string | undefined;
  chat: boolean;
  n: number;
  temp: number;
  "top-p": number;
  seed: number;
  json: boolean;
  "top-k": number;
  config: string | undefined;
  mmproj: string | undefined;
  threads: number | undefined;
  "memory-budget-mb": number | undefined;
}

const BEGIN_OF_TEXT = "<|begin_of_text|>";

/** Prompt text as the model sees it: chat template and image placeholder applied, image tokens expanded. */
export function buildPromptText(m: Llama4Model, prompt: string, opts: { chat: boolean; image?: Uint8Array }): string {
  let text = prompt;
  if (opts.chat) {
    const content = opts.image ? [{ type: "image" as const }, { type: "text" as const, text: prompt }] : prompt;
    text = m.applyChatTemplate([{ role: "user", content }], { addGenerationPrompt: true });
  } else if (opts.image && !text.includes("<|image|>")) {
    text = `<|image|>${text}`;
  }
  return opts.image ? m.expandImagePrompt(text, opts.image) : text;
}

/** Streams decoded text: prints the growth of detokenize(all ids), holding back an incomplete UTF-8 tail. */
function textStreamer(m: Llama4Model, eos: Set<number>, write: (s: string) => void): (id: number) => void {
  const ids: number[] = [];
  let printed = 0;
  return (id) => {
    if (eos.has(id)) return;
    ids.push(id);
    const text = m.detokenize(ids);
    if (text.endsWith("\uFFFD")) return;
    write(text.slice(printed));
    printed = text.length;
  };
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: "run <model>",
  describe: "Generate with the bundled Llama 4 runtime (GGUF or HF safetensors)",
  builder: (y: Argv) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "GGUF file or HF checkpoint directory" })
      .option("prompt", { alias: "p", type: "string", demandOption: true, describe: "prompt text (special tokens are parsed)" })
      .option("image", { type: "string", describe: "PNG or JPEG file; <|image|> in the prompt marks where it goes (prepended if absent)" })
      .option("chat", { type: "boolean", default: false, describe: "wrap the prompt in the chat template as a user turn" })
      .option("n", { type: "number", default: 64, describe: "tokens to generate" })
      .option("temp", { type: "number", default: 0, describe: "sampling temperature (0 = greedy)" })
      .option("top-p", { type: "number", default: 1, describe: "nucleus sampling mass" })
      .option("seed", { type: "number", default: 0, describe: "sampling seed" })
      .option("json", {
        type: "boolean",
        default: false,
        describe: "print prompt log-probabilities (top-k per position, full for the last) and the generation as JSON",
      })
      .option("top-k", { type: "number", default: 10, describe: "entries per position in --json" })
      .option("config", { type: "string", describe: "override config.json of an HF checkpoint" })
      .option("mmproj", { type: "string", describe: "vision projector GGUF for a GGUF model (default: mmproj-<model file> next to it)" })
      .option("threads", { type: "number", default: availableParallelism(), describe: "CPU threads the matmuls run on (default: the machine's cores)" })
      .option("memory-budget-mb", { type: "number", describe: "resident weight budget (MiB)" }) as unknown as Argv<RunArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.n) || args.n < 0) throw new InputError("USAGE", `-n must be a non-negative integer, got ${args.n}`);
    if (!(args.temp >= 0)) throw new InputError("USAGE", `--temp must be ≥ 0, got ${args.temp}`);
    if (!(args["top-p"] > 0 && args["top-p"] <= 1)) throw new InputError("USAGE", `--top-p must be in (0, 1], got ${args["top-p"]}`);
    let image: Uint8Array | undefined;
    if (args.image) {
      if (!existsSync(args.image)) throw new InputError("NOT_FOUND", "image file not found", { file: args.image });
      image = new Uint8Array(readFileSync(args.image));
      try {
        decodeImage(image);
      } catch (cause) {
        throw new InputError("IMAGE_DECODE", `cannot read the image: ${(cause as Error).message}`, { file: args.image, cause });
      }
    }
    const m = await loadModel(args.model, {
      config: args.config,
      mmproj: args.mmproj,
      threads: args.threads,
      memoryBudgetBytes: args["memory-budget-mb"] === undefined ? undefined : args["memory-budget-mb"] * 1024 * 1024,
    });
    try {
      const text = buildPromptText(m, args.prompt, { chat: args.chat, image });
      const tokens = m.tokenize(text, { addBos: !text.startsWith(BEGIN_OF_TEXT), parseSpecial: true });
      const eos = new Set(m.eosIds);
      const gen = { maxTokens: args.n, temperature: args.temp, topP: args["top-p"], seed: args.seed, image };
      if (!args.json) {
        if (args.n === 0) return;
        await m.generate(tokens, { ...gen, onToken: textStreamer(m, eos, (s) => process.stdout.write(s)) });
        process.stdout.write("\n");
        return;
      }
      const V = m.vocabSize;
      const logits = await m.logits(tokens, { image });
      const k = Math.max(1, Math.min(args["top-k"], V));
      const positions = tokens.map((token, t) => {
        const lp = logSoftmax(logits, t * V, V);
        const order = Array.from(lp.keys())
          .sort((a, b) => lp[b] - lp[a])
          .slice(0, k);
        const next = t + 1 < tokens.length ? tokens[t + 1] : undefined;
        return {
          token,
          text: m.detokenize([token]),
          nextToken: next,
          nextTokenLogprob: next === undefined ? undefined : lp[next],
          top: order.map((id) => ({ id, text: m.detokenize([id]), logprob: lp[id] })),
        };
      });
      const last = Array.from(logSoftmax(logits, (tokens.length - 1) * V, V));
      const generated = args.n > 0 ? await m.generate(tokens, gen) : [];
      const out = {
        model: args.model,
        prompt: text,
        tokens,
        vocabSize: V,
        positions,
        lastLogprobs: last,
        generated: { ids: generated, text: m.detokenize(generated.filter((id) => !eos.has(id))) },
      };
      process.stdout.write(JSON.stringify(out) + "\n");
    } finally {
      await m.close();
    }
  },
};
