// The `--engine llama.cpp` EvalModel: llama.cpp itself (node-llama-cpp's prebuilt CPU build) runs the
// GGUF, so our metrics can be checked against the reference implementation's forward pass.
//
// node-llama-cpp exposes no raw logits; `controlledEvaluate` with `generateNext.probabilities` returns,
// for every position, the full-vocabulary softmax of the raw logits (greedy sampler chain: no
// temperature, no truncation). We return log(p) as the "logits": log-softmax differs from the raw
// logits by a per-row constant, which no metric here can see. Probabilities that underflow float32
// (log p < −103.97) come back as 0 and are stored as that floor.
import { basename } from "node:path";
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { InputError } from "@moeq/formats";
import type { EvalModel } from "../model.js";

/** ln of the smallest positive float32 (denormal): where float probabilities underflow to 0. */
export const LOG_PROB_FLOOR = Math.log(1.401298464324817e-45);

export interface LlamaCppEngineOptions {
  /** CPU threads for llama.cpp; default: llama.cpp's own choice (math cores). */
  threads?: number;
  /**
   * Flash attention: "auto" (default, as llama-perplexity's `-fa auto`) or forced. `false` is the attention
   * path the moeq runtime's ggml numerics mirror.
   */
  flashAttention?: boolean | "auto";
}

let llamaInstance: Promise<Llama> | undefined;
function sharedLlama(): Promise<Llama> {
  llamaInstance ??= getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  return llamaInstance;
}

class LlamaCppEvalModel implements EvalModel {
  private ctx: LlamaContext | undefined;
  private seq: LlamaContextSequence | undefined;
  private ctxSize = 0;

  constructor(
    readonly name: string,
    private readonly model: LlamaModel,
    readonly vocabSize: number,
    private readonly threads: number | undefined,
    private readonly flashAttention: boolean | "auto",
  ) {}

  get nCtxTrain(): number {
    return this.model.trainContextSize;
  }

  /** llama-perplexity's add_bos: the vocabulary's add_bos flag decides. */
  get bosId(): number | null {
    return this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
  }

  tokenize(text: string, opts?: { addBos?: boolean; parseSpecial?: boolean }): number[] {
    const ids = this.model.tokenize(text, opts?.parseSpecial ?? false) as number[];
    const bos = this.bosId;
    return opts?.addBos && bos !== null && ids[0] !== bos ? [bos, ...ids] : ids;
  }

  detokenize(ids: number[]): string {
    return this.model.detokenize(ids as Token[]);
  }

  /** A context at least `n` long with batch size = context size, so a chunk is one decode as in llama-perplexity. */
  private async sequence(n: number): Promise<LlamaContextSequence> {
    if (!this.ctx || this.ctxSize < n) {
      await this.ctx?.dispose();
      const size = Math.max(n, 64);
      this.ctx = await this.model.createContext({
        contextSize: size,
        batchSize: size,
        sequences: 1,
        threads: this.threads ?? 0,
        flashAttention: this.flashAttention,
      });
      this.ctxSize = this.ctx.contextSize;
      this.seq = this.ctx.getSequence();
    }
    await this.seq!.clearHistory();
    return this.seq!;
  }

  async logits(tokens: number[]): Promise<Float32Array> {
    if (tokens.length === 0) throw new InputError("EMPTY_PROMPT", `${this.name}: no tokens to evaluate`);
    const seq = await this.sequence(tokens.length);
    const V = this.vocabSize;
    const out = new Float32Array(tokens.length * V).fill(LOG_PROB_FLOOR);
    const res = await seq.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { probabilities: true } }]));
    for (let i = 0; i < tokens.length; i++) {
      const probs = res[i]?.next.probabilities;
      if (!probs) throw new Error(`${this.name}: llama.cpp returned no probabilities for position ${i}`);
      const off = i * V;
      for (const [tok, p] of probs) if (p > 0) out[off + tok] = Math.log(p);
    }
    return out;
  }

  async generate(prompt: string, opts: { image?: Uint8Array; maxTokens: number }): Promise<string> {
    if (opts.image) {
      throw new InputError(
        "ENGINE_NO_VISION",
        "the llama.cpp engine has no image input (node-llama-cpp exposes no multimodal API); use --engine moeq for DocVQA",
      );
    }
    const bosText = this.model.tokens.bosString;
    const ids = this.tokenize(prompt, { addBos: !(bosText && prompt.startsWith(bosText)), parseSpecial: true });
    const seq = await this.sequence(ids.length + opts.maxTokens);
    const out: number[] = [];
    for await (const t of seq.evaluate(ids as Token[], { temperature: 0 })) {
      if (this.model.isEogToken(t)) break;
      out.push(t);
      if (out.length >= opts.maxTokens) break;
    }
    return this.detokenize(out);
  }

  async close(): Promise<void> {
    await this.ctx?.dispose();
    this.ctx = undefined;
    await this.model.dispose();
  }
}

/** Opens a GGUF with llama.cpp (CPU only). */
export async function openLlamaCppModel(path: string, opts: LlamaCppEngineOptions = {}): Promise<EvalModel> {
  const llama = await sharedLlama();
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  } catch (err) {
    throw new InputError("ENGINE_LOAD_FAILED", `llama.cpp cannot load the model: ${(err as Error).message}`, { file: path, cause: err });
  }
  const nVocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
  if (typeof nVocab !== "number") {
    await model.dispose();
    throw new InputError("ENGINE_NO_VOCAB", "GGUF has no tokenizer.ggml.tokens", { file: path });
  }
  return new LlamaCppEvalModel(basename(path), model, nVocab, opts.threads, opts.flashAttention ?? "auto");
}
