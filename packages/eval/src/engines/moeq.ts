// The `--engine moeq` EvalModel: the bundled Llama-4 runtime (@moeq/runtime) over GGUF or an HF checkpoint.
import { basename } from "node:path";
import { loadModel } from "@moeq/runtime";
import type { EvalModel } from "../model.js";

export interface MoeqEngineOptions {
  threads?: number;
  /** Resident weight bytes (LRU) — see @moeq/runtime LoadModelOptions. */
  memoryBudgetBytes?: number;
}

const BEGIN_OF_TEXT = "<|begin_of_text|>";

export async function openMoeqModel(path: string, opts: MoeqEngineOptions = {}): Promise<EvalModel> {
  const m = await loadModel(path, { threads: opts.threads, memoryBudgetBytes: opts.memoryBudgetBytes });
  const eos = new Set(m.eosIds);
  return {
    name: basename(path.replace(/\/+$/, "")),
    vocabSize: m.vocabSize,
    nCtxTrain: m.nCtxTrain,
    bosId: m.bosId,
    tokenize: (text, o) => m.tokenize(text, o),
    detokenize: (ids) => m.detokenize(ids),
    logits: (tokens) => m.logits(tokens),
    async generate(prompt, o) {
      // The image placeholder is expanded to the tile × patch tokens the vision tower fills in.
      const text = o.image ? m.expandImagePrompt(prompt, o.image) : prompt;
      const ids = m.tokenize(text, { addBos: !text.startsWith(BEGIN_OF_TEXT), parseSpecial: true });
      const out = await m.generate(ids, { maxTokens: o.maxTokens, temperature: 0, image: o.image });
      return m.detokenize(out.filter((id) => !eos.has(id)));
    },
    close: () => m.close(),
  };
}
