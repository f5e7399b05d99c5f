// The llama.cpp golden files of packages/eval/src/metrics/testdata, made by llama.cpp's own `llama-perplexity` (built
// from the source node-llama-cpp bundles by test-support/build-llama-tools.sh). `scripts/rebuild-goldens.ts` writes
// them; `metrics/llama-cpp-golden.test.ts` checks that the committed files are what the tool writes today.
//   tiny-llama-seed3-c64.kld  llama-perplexity -m tiny.gguf -f corpus.txt -c 64 --chunks 4 -t 2 --kl-divergence-base …
//   tiny-llama-seed3-c64.txt  that run's "Final estimate" line, then the per-chunk table and statistics that
//                             llama-perplexity -m tiny-noisy.gguf --kl-divergence-base … --kl-divergence -c 64 -t 2
//                             prints on stdout
// with tiny.gguf = writeTinyLlamaGguf({ seed: 3 }), tiny-noisy.gguf = the same with noise 0.3, corpus.txt = fakeCorpus(3000).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyLlamaGguf } from "./tiny-gguf.js";
import { fakeCorpus } from "./fake-model.js";
import { runLlamaTool, type ToolRun } from "./llama-tools.js";

/** Where the golden files live (packages/eval/src/metrics/testdata/). */
export const GOLDEN_DIR = fileURLToPath(new URL("../packages/eval/src/metrics/testdata/", import.meta.url));

/**
 * Runs llama-perplexity until two runs print the same whole `part` (undefined: not printed whole). Its logger is a worker
 * thread over a ring buffer that the tool never flushes before exiting (common/log.cpp `common_log_main`: "logs may be
 * lost if not flushed before the program exits"): under load some runs lose the last lines or cut one short, and some
 * print a line twice (seen: "99.9%   Δp" in 1 run of 12). The files it writes are complete.
 */
function perplexityPrinting(args: string[], part: (run: ToolRun) => string | undefined): string {
  let previous: string | undefined;
  for (let attempt = 1; attempt <= 10; attempt++) {
    const text = part(runLlamaTool("llama-perplexity", args));
    if (text === undefined || hasRepeatedLine(text)) continue;
    if (text === previous) return text;
    previous = text;
  }
  throw new Error(`llama-perplexity ${args.join(" ")}: no two equal, whole outputs in 10 runs`);
}

/** Whether a non-blank line follows an identical one (the logger's duplicate). */
function hasRepeatedLine(text: string): boolean {
  const lines = text.split("\n");
  return lines.some((line, i) => i > 0 && line.trim() !== "" && line === lines[i - 1]);
}

/** The "Final estimate" line, when printed whole. */
function finalEstimate(run: ToolRun): string | undefined {
  return /Final estimate: PPL = [\d.]+ \+\/- [\d.]+(?=\n)/.exec(run.stdout + run.stderr)?.[0];
}

/** The KL-divergence report on stdout from its chunk table on, when it ends with its last line whole. stdout opens with
 * the ETA line ("0.00 minutes"), which depends on the machine's speed. */
function kldReport(run: ToolRun): string | undefined {
  const table = run.stdout.indexOf("chunk ");
  return table >= 0 && /Same top p: +[\d.]+ ± +[\d.]+ %\n/.test(run.stdout) ? run.stdout.slice(table) : undefined;
}

/** Runs llama-perplexity as the header says and returns each golden file's name and bytes. */
export function buildPerplexityGoldens(): Map<string, Buffer> {
  const tmp = mkdtempSync(join(tmpdir(), "moeq-goldens-"));
  try {
    const base = join(tmp, "tiny.gguf");
    const noisy = join(tmp, "tiny-noisy.gguf");
    const corpus = join(tmp, "corpus.txt");
    const kld = join(tmp, "base.kld");
    writeTinyLlamaGguf(base, { seed: 3 });
    writeTinyLlamaGguf(noisy, { seed: 3, noise: 0.3 });
    writeFileSync(corpus, fakeCorpus(3000));
    const estimate = perplexityPrinting(["-m", base, "-f", corpus, "-c", "64", "--chunks", "4", "-t", "2", "--kl-divergence-base", kld], finalEstimate);
    const report = perplexityPrinting(["-m", noisy, "--kl-divergence-base", kld, "--kl-divergence", "-c", "64", "-t", "2"], kldReport);
    return new Map([
      ["tiny-llama-seed3-c64.kld", readFileSync(kld)],
      ["tiny-llama-seed3-c64.txt", Buffer.from(`${estimate}\n\n${report}`)],
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
