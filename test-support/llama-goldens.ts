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
 * Runs llama-perplexity until its output holds `marker`. Its logger is a worker thread the tool never flushes before
 * exiting (common/log.cpp `common_log_main`: "logs may be lost if not flushed before the program exits"), so the last
 * lines — the final estimate, the statistics — are missing from some runs; the files it writes are complete.
 */
function perplexityPrinting(args: string[], marker: string): ToolRun {
  for (let attempt = 1; ; attempt++) {
    const run = runLlamaTool("llama-perplexity", args);
    if ((run.stdout + run.stderr).includes(marker)) return run;
    if (attempt === 10) throw new Error(`llama-perplexity ${args.join(" ")}: no "${marker}" in 10 runs:\n${run.stderr.slice(-2000)}`);
  }
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
    const ppl = perplexityPrinting(["-m", base, "-f", corpus, "-c", "64", "--chunks", "4", "-t", "2", "--kl-divergence-base", kld], "Final estimate");
    const estimate = /Final estimate: PPL = [\d.]+ \+\/- [\d.]+/.exec(ppl.stdout + ppl.stderr)!;
    const report = perplexityPrinting(["-m", noisy, "--kl-divergence-base", kld, "--kl-divergence", "-c", "64", "-t", "2"], "Same top p");
    // stdout opens with the ETA line ("0.00 minutes"), which depends on the machine's speed
    const table = report.stdout.indexOf("chunk ");
    if (table < 0) throw new Error(`llama-perplexity --kl-divergence printed no chunk table:\n${report.stderr.slice(-2000)}`);
    return new Map([
      ["tiny-llama-seed3-c64.kld", readFileSync(kld)],
      ["tiny-llama-seed3-c64.txt", Buffer.from(`${estimate[0]}\n\n${report.stdout.slice(table)}`)],
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
