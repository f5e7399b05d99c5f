import { existsSync } from "node:fs";
import { InputError } from "@moeq/formats";
import type { EvalModel } from "../model.js";

export const ENGINES = ["moeq", "llama.cpp"] as const;
export type EngineName = (typeof ENGINES)[number];

export interface OpenEvalModelOptions {
  /** "moeq" (default): the bundled runtime; "llama.cpp": llama.cpp via node-llama-cpp (GGUF only). */
  engine?: EngineName;
  threads?: number;
  /** llama.cpp engine only: flash attention "auto" (default, as llama-perplexity) or forced on/off. */
  flashAttention?: boolean | "auto";
}

/** Opens a model for evaluation with the chosen engine. Engines load lazily, so one never pays for the other. */
export async function openEvalModel(path: string, opts: OpenEvalModelOptions = {}): Promise<EvalModel> {
  const engine = opts.engine ?? "moeq";
  if (!existsSync(path)) throw new InputError("MODEL_NOT_FOUND", "model not found", { file: path });
  switch (engine) {
    case "moeq": {
      const { openMoeqModel } = await import("./moeq.js");
      return openMoeqModel(path, { threads: opts.threads });
    }
    case "llama.cpp": {
      if (!path.endsWith(".gguf")) throw new InputError("ENGINE_NEEDS_GGUF", "the llama.cpp engine reads GGUF files only", { file: path });
      const { openLlamaCppModel } = await import("./llama-cpp.js");
      return openLlamaCppModel(path, { threads: opts.threads, flashAttention: opts.flashAttention });
    }
    default:
      throw new InputError("UNKNOWN_ENGINE", `unknown engine ${JSON.stringify(engine)} (${ENGINES.join(", ")})`);
  }
}
