// Runtime speed vs llama.cpp (node-llama-cpp 3.21.1, CPU, same GGUF, same thread count), printed as ratios of
// ours ÷ theirs in one run:
// - prompt processing (256 tokens) and generation (64 tokens) tokens/s, Q4_K_M and Q8_0, 1 thread and all cores,
//   on the tiny fixture and on a synthetic Llama-4-layout model (hidden 1024, 16 experts, written to /tmp);
// - wall time of the `moeq eval --task ppl` computation (@moeq/eval `perplexity`, n_ctx 256) on the fixture's test
//   split, ours vs the same computation over llama.cpp's logits (libllama through koffi);
// - resident memory of a process that loaded and ran each GGUF, vs the file size (no dequantized copy);
// - the prompt-speed ceiling of our integer kernels: each model's weight multiply-adds per token by type, timed on
//   the kernels alone at 256 tokens (scripts/kernel-throughput.mjs), against llama.cpp's whole prompt pass.
// Lives in @moeq/convert because it converts the GGUFs (the runtime must not import the converter).
// Run: npm run bench (or npx vitest run --config vitest.bench.config.ts packages/convert/bench/runtime-speed.bench.ts)
// Environment: MOEQ_BENCH_TOKENS / MOEQ_BENCH_GEN (prompt / generated tokens), and to measure a part on a shared
// machine MOEQ_BENCH_THREADS (e.g. "1"), MOEQ_BENCH_FTYPES ("Q4_K_M"), MOEQ_BENCH_MODELS ("fixture" or
// "synthetic"), MOEQ_BENCH_SKIP ("ppl,rss,ceiling": leaves out the perplexity timing, the RSS processes, the
// kernel ceiling).
import { it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { convertHfToGguf } from "../src/convert-hf.js";
import { LlamaFType } from "../src/ftype.js";
import { loadModel } from "@moeq/runtime";
import { GGMLType, ggmlTypeName, openGguf } from "@moeq/formats";
import { openEvalModel, perplexity } from "@moeq/eval";
import { writeRandomCheckpoint, FIXTURE_DIR } from "@moeq/test-support/random-checkpoint";
import { loadLlamaCppModel } from "@moeq/test-support/llama-run";
import { openLlamaLogits } from "@moeq/test-support/llama-perplexity";

const PP_TOKENS = Number(process.env.MOEQ_BENCH_TOKENS ?? 256);
const TG_TOKENS = Number(process.env.MOEQ_BENCH_GEN ?? 64);
const CORES = availableParallelism();
const list = (name: string): string[] | null => process.env[name]?.split(",").map((s) => s.trim()) ?? null;
const THREADS = list("MOEQ_BENCH_THREADS")?.map(Number) ?? [...new Set([1, CORES])];
const WANT_FTYPES = list("MOEQ_BENCH_FTYPES");
const WANT_MODELS = list("MOEQ_BENCH_MODELS") ?? ["fixture", "synthetic"];
const SKIP = list("MOEQ_BENCH_SKIP") ?? [];
const root = fileURLToPath(new URL("../../..", import.meta.url));
const work = join(tmpdir(), "moeq-pp-bench");
const FTYPES = [
  ["Q4_K_M", LlamaFType.MOSTLY_Q4_K_M],
  ["Q8_0", LlamaFType.MOSTLY_Q8_0],
] as const;

/** Converts to `ftype`; `reuse` keeps an existing file (the synthetic model is seeded, the fixture may change). */
async function ensureGguf(hfDir: string, out: string, ftype: LlamaFType, reuse: boolean): Promise<string> {
  if (!reuse || !existsSync(out)) await convertHfToGguf(hfDir, out, { outtype: ftype, threads: CORES });
  return out;
}

interface Speed {
  /** Prompt tokens/s: the prompt's forward pass (last-position logits) and the first sampled token. */
  pp: number;
  /** Generated tokens/s: one forward + greedy sample per token after the prompt. */
  tg: number;
  /** The same per CPU-second of this process (all its threads): the machine is shared, so wall time varies with load. */
  ppCpu: number;
  tgCpu: number;
}

/** Process CPU time in ms (user + system, all threads). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall and CPU clocks of one token. */
interface Stamp {
  wall: number;
  cpu: number;
}

function stamp(): Stamp {
  return { wall: performance.now(), cpu: cpuMs() };
}

/** Times one generation run: start → first token (the prompt pass) and first → last token (the decode steps). */
function timing(start: Stamp, stamps: Stamp[], promptTokens: number): Speed {
  const steps = stamps.length - 1;
  const last = stamps[steps];
  const first = stamps[0];
  return {
    pp: promptTokens / ((first.wall - start.wall) / 1000),
    tg: steps > 0 ? steps / ((last.wall - first.wall) / 1000) : NaN,
    ppCpu: promptTokens / ((first.cpu - start.cpu) / 1000),
    tgCpu: steps > 0 ? steps / ((last.cpu - first.cpu) / 1000) : NaN,
  };
}

function bestOf(runs: Speed[]): Speed {
  const best = (k: keyof Speed) => Math.max(...runs.map((r) => r[k]));
  return { pp: best("pp"), tg: best("tg"), ppCpu: best("ppCpu"), tgCpu: best("tgCpu") };
}

/** Ours: greedy generation of TG_TOKENS after the prompt (it may stop early at an end-of-turn token). */
async function oursSpeed(path: string, prompt: number[], threads: number): Promise<Speed> {
  const m = await loadModel(path, { threads });
  try {
    await m.generate(prompt.slice(0, 8), { maxTokens: 2, temperature: 0 }); // warm-up: weights into memory
    const runs: Speed[] = [];
    for (let r = 0; r < 2; r++) {
      const stamps: Stamp[] = [];
      const start = stamp();
      await m.generate(prompt, { maxTokens: TG_TOKENS + 1, temperature: 0, onToken: () => stamps.push(stamp()) });
      runs.push(timing(start, stamps, prompt.length));
    }
    return bestOf(runs);
  } finally {
    await m.close();
  }
}

/** llama.cpp: the same through node-llama-cpp's token generator (greedy), fresh context per run. */
async function llamaSpeed(path: string, prompt: number[], threads: number): Promise<Speed> {
  const model = await loadLlamaCppModel(path);
  try {
    const runs: Speed[] = [];
    for (let r = 0; r < 3; r++) {
      const ctx = await model.createContext({ contextSize: prompt.length + TG_TOKENS + 16, batchSize: prompt.length, threads });
      const stamps: Stamp[] = [];
      const start = stamp();
      for await (const token of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        void token;
        stamps.push(stamp());
        if (stamps.length > TG_TOKENS) break;
      }
      await ctx.dispose();
      if (r > 0) runs.push(timing(start, stamps, prompt.length)); // the first run warms up
    }
    return bestOf(runs);
  } finally {
    await model.dispose();
  }
}

/**
 * Weight multiply-adds one prompt token costs, per weight type: every matrix it passes (routed experts: the
 * expert_used_count of E), not the output head (the prompt pass computes the last position's logits only) and not
 * attention's K·Q / V·P (f32, a few % here).
 */
async function macsPerToken(path: string): Promise<Map<GGMLType, number>> {
  const g = await openGguf(path);
  try {
    const arch = String(g.get("general.architecture"));
    const used = Number(g.get(`${arch}.expert_used_count`) ?? 1);
    const macs = new Map<GGMLType, number>();
    for (const t of g.tensors) {
      if (t.shape.length < 2 || t.name === "token_embd.weight" || t.name === "output.weight") continue;
      const m = t.shape[0] * t.shape[1] * (t.shape.length === 3 ? used : 1);
      macs.set(t.type, (macs.get(t.type) ?? 0) + m);
    }
    return macs;
  } finally {
    await g.close();
  }
}

/** GMAC/s of the integer kernel per weight type at `tokens` tokens, one thread, `cols`-long rows (kernel-throughput.mjs). */
function kernelRates(tokens: number, cols: number): Map<string, number> {
  const script = join(root, "packages/runtime/scripts/kernel-throughput.mjs");
  const out = execFileSync(process.execPath, [script, "--tokens", String(tokens), "--rows", "512", "--cols", String(cols), "--min-ms", "300"], {
    encoding: "utf8",
  });
  const rates = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^(\w+)\s+([\d.]+)\s*$/.exec(line);
    if (m) rates.set(m[1], Number(m[2]));
  }
  return rates;
}

/** RSS growth of a fresh process that loads `path` and runs a 256-token prompt (over the process before loading). */
function rssGrowth(path: string): number {
  const dist = join(root, "packages/runtime/dist/index.js");
  const code = `const base = process.memoryUsage().rss;
const { loadModel } = await import(${JSON.stringify(dist)});
const m = await loadModel(${JSON.stringify(path)}, { threads: 1 });
await m.logits(Array.from({ length: 256 }, (_, i) => (i * 37 + 11) % 3000));
console.log(process.memoryUsage().rss - base);
await m.close();`;
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" }).trim());
}

it(`runtime vs llama.cpp: pp${PP_TOKENS} / tg${TG_TOKENS} tok/s, ppl wall time, RSS (threads ${THREADS.join(", ")})`, async () => {
  mkdirSync(work, { recursive: true });
  execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: root, stdio: "inherit" });
  const fixtureHasWeights = existsSync(FIXTURE_DIR) && readdirSync(FIXTURE_DIR).some((f) => f.endsWith(".safetensors"));
  const bigDir = join(work, "synthetic-h1024-e16");
  if (!existsSync(join(bigDir, "model.safetensors"))) {
    writeRandomCheckpoint(bigDir, {
      seed: 5,
      std: 0.02,
      text: {
        hidden_size: 1024,
        intermediate_size: 1024,
        intermediate_size_mlp: 2048,
        num_local_experts: 16,
        num_attention_heads: 8,
        num_key_value_heads: 2,
        head_dim: 128,
      },
    });
  }
  const models: { model: string; ftype: string; path: string }[] = [];
  for (const [ftype, code] of FTYPES) {
    if (WANT_FTYPES && !WANT_FTYPES.includes(ftype)) continue;
    if (fixtureHasWeights && WANT_MODELS.includes("fixture"))
      models.push({ model: "tiny-llama4 fixture", ftype, path: await ensureGguf(FIXTURE_DIR, join(work, `fixture-${ftype}.gguf`), code, false) });
    if (WANT_MODELS.includes("synthetic"))
      models.push({ model: "synthetic h1024 E16", ftype, path: await ensureGguf(bigDir, join(work, `synthetic-${ftype}.gguf`), code, true) });
  }
  const prompt = Array.from({ length: PP_TOKENS }, (_, i) => (i * 37 + 11) % 3000);
  const speed = [];
  for (const { model, ftype, path } of models) {
    for (const threads of THREADS) {
      const ours = await oursSpeed(path, prompt, threads);
      const llama = await llamaSpeed(path, prompt, threads);
      speed.push({
        model,
        ftype,
        threads,
        "pp ours tok/s": +ours.pp.toFixed(1),
        "pp llama.cpp": +llama.pp.toFixed(1),
        "pp ratio": +(ours.pp / llama.pp).toFixed(3),
        "tg ours tok/s": +ours.tg.toFixed(1),
        "tg llama.cpp": +llama.tg.toFixed(1),
        "tg ratio": +(ours.tg / llama.tg).toFixed(3),
        "pp CPU ratio": +(ours.ppCpu / llama.ppCpu).toFixed(3),
        "tg CPU ratio": +(ours.tgCpu / llama.tgCpu).toFixed(3),
        "load avg": +loadavg()[0].toFixed(2),
      });
    }
  }
  console.log(
    `moeq runtime vs llama.cpp (node-llama-cpp, default CPU backend), prompt ${PP_TOKENS} tokens then ${TG_TOKENS} greedy tokens ` +
      `(pp = prompt pass to the first token, tg = the steps after it; CPU ratio = tokens per CPU-second of the process, ` +
      `ours ÷ llama.cpp's; load avg = os.loadavg()[0] after the row), ${CORES} cores`,
  );
  console.table(speed);

  if (!SKIP.includes("ceiling")) {
    // our kernels alone on every weight of a prompt token, as if nothing else took time, vs llama.cpp's whole pass
    const rates = kernelRates(PP_TOKENS, 1024);
    const ceiling = [];
    for (const row of speed.filter((r) => r.threads === 1)) {
      const path = models.find((m) => m.model === row.model && m.ftype === row.ftype)!.path;
      const macs = await macsPerToken(path);
      let total = 0;
      let kernelNs = 0;
      for (const [type, m] of macs) {
        total += m;
        const rate = rates.get(ggmlTypeName(type));
        if (rate !== undefined) kernelNs += m / rate; // F32/F16 matrices (the router) take no time here: an upper bound
      }
      const kernelTokS = 1e9 / kernelNs;
      ceiling.push({
        model: row.model,
        ftype: row.ftype,
        "weight MMAC/token": +(total / 1e6).toFixed(2),
        "llama.cpp pp GMAC/s": +((total * row["pp llama.cpp"]) / 1e9).toFixed(1),
        "our kernels alone tok/s": +kernelTokS.toFixed(1),
        "ceiling ratio": +(kernelTokS / row["pp llama.cpp"]).toFixed(3),
      });
    }
    console.log(
      `prompt-speed ceiling, 1 thread: our integer kernels alone at ${PP_TOKENS} tokens on a prompt token's weights ` +
        `(${[...rates].map(([t, r]) => `${t} ${r}`).join(", ")} GMAC/s), ÷ llama.cpp's whole prompt pass; the pp ratio cannot exceed it`,
    );
    console.table(ceiling);
  }

  if (fixtureHasWeights && !SKIP.includes("ppl")) {
    const text = readFileSync(join(root, "fixtures/data/brown-test.txt"), "utf8");
    const path = join(work, "fixture-Q4_K_M.gguf");
    const t0 = performance.now();
    const ours = await openEvalModel(path, { engine: "moeq", threads: CORES });
    const a = await perplexity(ours, text, { ctx: 256 });
    await ours.close();
    const oursMs = performance.now() - t0;
    const t1 = performance.now();
    const theirs = openLlamaLogits(path, 256, CORES);
    const b = await perplexity(theirs, text, { ctx: 256 });
    await theirs.close();
    const llamaMs = performance.now() - t1;
    console.log(
      `perplexity of fixtures/data/brown-test.txt (fixture Q4_K_M, n_ctx 256, ${CORES} threads): ours ${(oursMs / 1000).toFixed(2)} s (PPL ${a.ppl.toFixed(4)}), ` +
        `llama.cpp ${(llamaMs / 1000).toFixed(2)} s (PPL ${b.ppl.toFixed(4)}); speed ratio (llama.cpp time ÷ ours) ${(llamaMs / oursMs).toFixed(3)}`,
    );
  }

  if (SKIP.includes("rss")) return;
  const memory = models.map(({ model, ftype, path }) => {
    const rss = rssGrowth(path);
    const size = statSync(path).size;
    return { model, ftype, "file MiB": +(size / 2 ** 20).toFixed(1), "RSS growth MiB": +(rss / 2 ** 20).toFixed(1), "RSS ÷ file": +(rss / size).toFixed(2) };
  });
  console.log("RSS growth of a process that loaded the GGUF and ran a 256-token prompt, vs the file size");
  console.table(memory);
}, 3_600_000);
