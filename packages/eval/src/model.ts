/**
 * The one thing every metric needs from a model. The bundled runtime (@moeq/runtime) and the
 * llama.cpp engine (node-llama-cpp) both satisfy it; tests use tiny in-memory fakes.
 */
export interface EvalModel {
  readonly name: string;
  readonly vocabSize: number;
  readonly nCtxTrain: number;
  /** null → no BOS is added (llama-perplexity's `add_bos` is false). */
  readonly bosId: number | null;
  tokenize(text: string, opts?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  detokenize(ids: number[]): string;
  /** Fresh context each call: logits for every position, row-major [tokens.length × vocabSize], f32. */
  logits(tokens: number[]): Promise<Float32Array>;
  /** Greedy generation for DocVQA: prompt text (chat-formatted by the caller or not), optional image; stops at EOS / maxTokens. */
  generate(prompt: string, opts: { image?: Uint8Array; maxTokens: number }): Promise<string>;
  close(): Promise<void>;
}

/** Progress callback shared by the long-running metrics: `done` of `total` units (chunks, questions). */
export type ProgressFn = (done: number, total: number) => void;
