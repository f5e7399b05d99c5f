// Prompt-processing throughput (tokens/s) of the moeq runtime vs llama.cpp (node-llama-cpp, CPU) on the same GGUF,
// same prompt, same thread count: on the tiny fixture (converted to Q4_K_M here) and on a larger synthetic
// Llama-4-layout model (hidden 1024, 16 experts, written to /tmp by this bench). Prints a table with the ratio.
// Lives in @moeq/convert because it converts the GGUFs (the runtime must not import the converter).
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/runtime-pp.bench.ts
import { it } from "vitest";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { convertHfToGguf } from "../src/convert-hf.js";
import { LlamaFType } from "../src/ftype.js";
import { loadModel } from "@moeq/runtime";
import { writeRandomCheckpoint, FIXTURE_DIR } from "@moeq/test-support/random-checkpoint";
import { loadLlamaCppModel } from "@moeq/test-support/llama-run";

const N_TOKENS = Number(process.env.MOEQ_BENCH_TOKENS ?? 256);
const THREADS = Number(process.env.MOEQ_BENCH_THREADS ?? 1);
const work = join(tmpdir(), "moeq-pp-bench");

/** Converts to Q4_K_M; `reuse` keeps an existing file (the synthetic model is seeded, the fixture may change). */
async function ensureGguf(hfDir: string, out: string, reuse: boolean): Promise<string> {
  if (!reuse || !existsSync(out)) await convertHfToGguf(hfDir, out, { outtype: LlamaFType.MOSTLY_Q4_K_M, threads: 2 });
  return out;
}

async function oursTokS(path: string, tokens: number[]): Promise<number> {
  const m = await loadModel(path, { threads: THREADS });
  await m.logits(tokens.slice(0, 8)); // warm-up: weights into the LRU, kernels compiled
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    await m.logits(tokens);
    best = Math.min(best, performance.now() - t0);
  }
  await m.close();
  return tokens.length / (best / 1000);
}

async function llamaTokS(path: string, tokens: number[]): Promise<number> {
  const model = await loadLlamaCppModel(path);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const ctx = await model.createContext({ contextSize: tokens.length + 16, batchSize: tokens.length, threads: THREADS });
    const seq = ctx.getSequence();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens as never);
    best = Math.min(best, performance.now() - t0);
    await ctx.dispose();
  }
  await model.dispose();
  return tokens.length / (best / 1000);
}

it(`prompt processing tok/s vs llama.cpp (${N_TOKENS} tokens, ${THREADS} thread(s), Q4_K_M)`, async () => {
  mkdirSync(work, { recursive: true });
  const fixtureHasWeights = existsSync(FIXTURE_DIR) && readdirSync(FIXTURE_DIR).some((f) => f.endsWith(".safetensors"));
  const bigDir = join(work, "synthetic-h1024-e16");
  if (!existsSync(join(bigDir, "model.safetensors"))) {
    writeRandomCheckpoint(bigDir, {
      seed: 5,
      std: 0.02,
      text: { hidden_size: 1024, intermediate_size: 1024, intermediate_size_mlp: 2048, num_local_experts: 16, num_attention_heads: 8, num_key_value_heads: 2, head_dim: 128 },
    });
  }
  const models: [string, string][] = [];
  if (fixtureHasWeights) models.push(["tiny-llama4 fixture", await ensureGguf(FIXTURE_DIR, join(work, "fixture-q4_k_m.gguf"), false)]);
  models.push(["synthetic h1024 E16", await ensureGguf(bigDir, join(work, "synthetic-q4_k_m.gguf"), true)]);
  const tokens = Array.from({ length: N_TOKENS }, (_, i) => (i * 37 + 11) % 3000);
  const rows = [];
  for (const [name, path] of models) {
    const ours = await oursTokS(path, tokens);
    const llama = await llamaTokS(path, tokens);
    rows.push({ model: name, oursTokS: +ours.toFixed(1), llamaCppTokS: +llama.toFixed(1), ratio: +(ours / llama).toFixed(3) });
  }
  console.log(`moeq runtime vs llama.cpp prompt processing, ${N_TOKENS} tokens, ${THREADS} thread(s), Q4_K_M`);
  console.table(rows);
}, 1_800_000);
