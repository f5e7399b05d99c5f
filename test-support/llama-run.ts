// node-llama-cpp (llama.cpp v0.4.0, CPU) as the oracle for the runtime's GGUF forward pass and tokenizer.
// Test-only: no package imports this.
import { getLlama, type Llama, type LlamaModel, type Token } from "node-llama-cpp";

let llamaPromise: Promise<Llama> | undefined;

/** One CPU-only llama.cpp instance per test process (no GPU probing, quiet logs). */
export function cpuLlama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  return llamaPromise;
}

export async function loadLlamaCppModel(path: string): Promise<LlamaModel> {
  const llama = await cpuLlama();
  return llama.loadModel({ modelPath: path, gpuLayers: 0 });
}

/**
 * llama.cpp's next-token distribution after every prefix of `tokens` (row t = P(· | tokens[0..t])), each a dense
 * Float64Array over the vocabulary. Uses a fresh context with the default f16 KV cache.
 */
export async function llamaCppNextTokenProbs(model: LlamaModel, tokens: number[], nVocab: number, opts: { threads?: number } = {}): Promise<Float64Array[]> {
  const context = await model.createContext({ contextSize: Math.max(256, tokens.length + 8), batchSize: Math.max(32, tokens.length), threads: opts.threads ?? 2 });
  try {
    const seq = context.getSequence();
    const out = await seq.controlledEvaluate(tokens.map((t) => [t as Token, { generateNext: { probabilities: true } }] as const));
    return out.map((o, i) => {
      const probs = o?.next?.probabilities;
      if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
      const row = new Float64Array(nVocab);
      for (const [id, p] of probs) row[id] = p;
      return row;
    });
  } finally {
    await context.dispose();
  }
}

/** llama.cpp's tokenization (no BOS added; special tokens parsed when `special`). */
export function llamaCppTokenize(model: LlamaModel, text: string, special = false): number[] {
  return [...model.tokenize(text, special)];
}
