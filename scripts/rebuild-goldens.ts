// Rebuilds the llama.cpp golden files of packages/eval (what `metrics/llama-cpp-golden.test.ts` checks our
// llama-perplexity port against) with llama.cpp's own `llama-perplexity`, built from the source node-llama-cpp bundles
// by test-support/build-llama-tools.sh:
//   testdata/tiny-llama-seed3-c64.kld      llama-perplexity -m tiny.gguf -f corpus.txt -c 64 --chunks 4 -t 2 --kl-divergence-base …
//   testdata/tiny-llama-seed3-c64.txt      that run's "Final estimate" line, then the per-chunk table and statistics that
//                                          llama-perplexity -m tiny-noisy.gguf --kl-divergence-base … --kl-divergence -c 64 -t 2
//                                          prints on stdout
// with tiny.gguf = writeTinyLlamaGguf({ seed: 3 }), tiny-noisy.gguf = the same with noise 0.3, corpus.txt = fakeCorpus(3000).
//   bash scripts/rebuild-goldens.sh            rewrites the files
//   bash scripts/rebuild-goldens.sh --check    fails unless the rebuilt files equal the committed ones byte for byte
// The repo's other reference files have their own commands: fixtures/tiny-llama4/reference (bash fixtures/tools/generate.sh),
// docs/ppl-by-ftype.md (scripts/ppl-table.ts).
import { expect, it } from "vitest";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyLlamaGguf } from "@moeq/test-support/tiny-gguf";
import { fakeCorpus } from "@moeq/test-support/fake-model";
import { runLlamaTool, type ToolRun } from "@moeq/test-support/llama-tools";

const testdata = fileURLToPath(new URL("../packages/eval/src/metrics/testdata/", import.meta.url));
const check = process.env.MOEQ_GOLDEN_CHECK === "1";

/** Writes `bytes` to `path` through a temporary file and a rename, or (check mode) compares them with the file. */
function emit(path: string, bytes: Buffer): void {
  if (check) {
    expect(Buffer.compare(bytes, readFileSync(path)), `${path}: the rebuilt golden differs from the committed one`).toBe(0);
    console.log(`${path}: rebuilt, byte-identical to the committed file (${bytes.length} bytes)`);
    return;
  }
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
  console.log(`${path}: written (${bytes.length} bytes)`);
}

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

it("llama-perplexity goldens (packages/eval/src/metrics/testdata)", () => {
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
    emit(join(testdata, "tiny-llama-seed3-c64.kld"), readFileSync(kld));
    // stdout opens with the ETA line ("0.00 minutes"), which depends on the machine's speed
    const table = report.stdout.indexOf("chunk ");
    if (table < 0) throw new Error(`llama-perplexity --kl-divergence printed no chunk table:\n${report.stderr.slice(-2000)}`);
    emit(join(testdata, "tiny-llama-seed3-c64.txt"), Buffer.from(`${estimate[0]}\n\n${report.stdout.slice(table)}`));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
