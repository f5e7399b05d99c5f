// Golden check against llama.cpp's own llama-perplexity (built from the llama.cpp source node-llama-cpp 3.21.1 ships, by
// test-support/build-llama-tools.sh). Both golden files are rebuilt by `bash scripts/rebuild-goldens.sh` (and the first
// test below rebuilds them and compares; test-support/llama-goldens.ts), which runs, with
// tiny.gguf = writeTinyLlamaGguf({seed: 3}) and corpus.txt = fakeCorpus(3000),
//   llama-perplexity -m tiny.gguf -f corpus.txt -c 64 --chunks 4 -t 2 --kl-divergence-base testdata/tiny-llama-seed3-c64.kld
//   llama-perplexity -m tiny-noisy.gguf (seed 3, noise 0.3) --kl-divergence-base … --kl-divergence -c 64 -t 2
// and keeps the first run's "Final estimate" line and the second's printed report in testdata/tiny-llama-seed3-c64.txt:
// the numbers asserted below are read from there.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalModel } from "../model.js";
import { writeTinyLlamaGguf } from "@moeq/test-support/tiny-gguf";
import { fakeCorpus } from "@moeq/test-support/fake-model";
import { buildPerplexityGoldens, GOLDEN_DIR } from "@moeq/test-support/llama-goldens";
import { llamaToolsBin } from "@moeq/test-support/llama-tools";
import { openEvalModel } from "../engines/index.js";
import { perplexity } from "./perplexity.js";
import { formatKld, klDivergence } from "./kld.js";
import { KldFileReader, kldRowsPerChunk } from "./kld-file.js";
import { kldRowWords } from "./log-softmax.js";

const golden = fileURLToPath(new URL("./testdata/tiny-llama-seed3-c64.kld", import.meta.url));
const printedText = readFileSync(fileURLToPath(new URL("./testdata/tiny-llama-seed3-c64.txt", import.meta.url)), "utf8");

/** The numbers llama-perplexity printed on the line labelled `label` (whitespace collapsed), as printed. */
function printed(label: string): string[] {
  for (const line of printedText.split("\n")) {
    const i = line.indexOf(":");
    if (i >= 0 && line.slice(0, i).replace(/\s+/g, " ").trim() === label) return line.slice(i + 1).match(/-?\d+\.\d+/g) ?? [];
  }
  throw new Error(`testdata/tiny-llama-seed3-c64.txt has no line "${label}" (rebuild it: bash scripts/rebuild-goldens.sh)`);
}

/** The whole printed line labelled `label`, as llama-perplexity laid it out. */
function printedLine(label: string): string {
  const line = printedText.split("\n").find((l) => l.startsWith(label));
  if (!line) throw new Error(`testdata/tiny-llama-seed3-c64.txt has no line "${label}"`);
  return line;
}

/** `x` with as many decimals as `printed` has. */
const likePrinted = (x: number, printed: string) => x.toFixed(printed.split(".")[1]?.length ?? 0);
const dir = mkdtempSync(join(tmpdir(), "moeq-golden-"));
let base: EvalModel;
let noisy: EvalModel;

beforeAll(async () => {
  llamaToolsBin(); // builds llama.cpp's tools once (cached by commit)
  writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 3 });
  writeTinyLlamaGguf(join(dir, "tiny-noisy.gguf"), { seed: 3, noise: 0.3 });
  base = await openEvalModel(join(dir, "tiny.gguf"), { engine: "llama.cpp", threads: 2 });
  noisy = await openEvalModel(join(dir, "tiny-noisy.gguf"), { engine: "llama.cpp", threads: 2 });
}, 3_600_000); // a clean clone without .ci/run's prebuild compiles the tools here (minutes)
afterAll(async () => {
  await base?.close();
  await noisy?.close();
});

describe("against llama-perplexity's own output", () => {
  it("the committed golden files are what llama-perplexity writes today, byte for byte", () => {
    for (const [name, bytes] of buildPerplexityGoldens()) {
      expect(Buffer.compare(bytes, readFileSync(join(GOLDEN_DIR, name))), `${name} (rebuild: bash scripts/rebuild-goldens.sh)`).toBe(0);
    }
  });

  it("the test model is the one the golden file was made from", () => {
    const sha = createHash("sha256")
      .update(readFileSync(join(dir, "tiny.gguf")))
      .digest("hex");
    expect(sha).toBe("3ec10bfeac051cadb20489b28e6764fb63a511ce99e2e18f85be70a871e8c4d8");
  });

  it("PPL matches llama-perplexity's 'Final estimate' to every printed digit; our .kld has its size, header and tokens byte for byte, every logit code within ±1", async () => {
    const ours = join(dir, "ours.kld");
    const r = await perplexity(base, fakeCorpus(3000), { ctx: 64, chunks: 4, saveKldBase: ours });
    const [ppl, stderr] = printed("Final estimate");
    expect(likePrinted(r.ppl, ppl)).toBe(ppl);
    expect(likePrinted(r.pplStderr, stderr)).toBe(stderr);
    const a = readFileSync(ours);
    const b = readFileSync(golden);
    expect(a.length).toBe(b.length);
    const headerAndTokens = 20 + 4 * 64 * 4;
    expect(a.subarray(0, headerAndTokens).equals(b.subarray(0, headerAndTokens))).toBe(true);
    // rows: llama.cpp quantizes raw logits, we quantize log-probs; the 16-bit codes may differ by one step
    const ra = KldFileReader.open(ours);
    const rb = KldFileReader.open(golden);
    const nv = kldRowWords(ra.header.nVocab);
    let maxDiff = 0;
    let nDiff = 0;
    let nCodes = 0;
    for (let c = 0; c < 4; c++) {
      const x = ra.readChunk(c);
      const y = rb.readChunk(c);
      for (let row = 0; row < kldRowsPerChunk(64); row++) {
        for (let i = 4; i < nv; i++) {
          const d = Math.abs(x[row * nv + i] - y[row * nv + i]);
          maxDiff = Math.max(maxDiff, d);
          nDiff += d > 0 ? 1 : 0;
          nCodes++;
        }
      }
    }
    ra.close();
    rb.close();
    process.stderr.write(`.kld codes differing from llama.cpp's: ${nDiff} of ${nCodes}, by at most ${maxDiff}\n`);
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it("reads llama.cpp's file and reproduces its --kl-divergence report", async () => {
    const k = await klDivergence(noisy, golden);
    expect(k.tokensScored).toBe(4 * 31);
    // Statistics of the base alone come straight from llama.cpp's file: every printed digit matches.
    const [pplBase, pplBaseStderr] = printed("Mean PPL(base)");
    expect(likePrinted(k.pplBase.value, pplBase)).toBe(pplBase);
    expect(likePrinted(k.pplBase.stderr, pplBaseStderr)).toBe(pplBaseStderr);
    // The quantized side goes through node-llama-cpp's float32 probabilities instead of raw logits, so allow
    // 2 units in the last printed digit or 1e-7 relative, whichever is larger.
    const near = (actual: number, printed: string) => {
      const unit = 10 ** -(printed.split(".")[1]?.length ?? 0);
      const tol = Math.max(2 * unit, 1e-7 * Math.abs(Number(printed))) + 1e-12;
      expect.soft(Math.abs(actual - Number(printed)), `${actual} vs llama.cpp ${printed}`).toBeLessThanOrEqual(tol);
    };
    const nearLine = (label: string, value: number, stderr?: number) => {
      const [v, e] = printed(label);
      near(value, v);
      if (stderr !== undefined) near(stderr, e);
    };
    nearLine("Mean PPL(Q)", k.pplQ.value, k.pplQ.stderr);
    nearLine("Cor(ln(PPL(Q)), ln(PPL(base)))", 100 * k.lnPplCorrelation);
    nearLine("Mean ln(PPL(Q)/PPL(base))", k.lnPplRatio.value, k.lnPplRatio.stderr);
    nearLine("Mean PPL(Q)/PPL(base)", k.pplRatio.value);
    nearLine("Mean PPL(Q)-PPL(base)", k.pplDiff.value);
    nearLine("Mean KLD", k.kldMean.value, k.kldMean.stderr);
    const q = k.kld;
    // prettier-ignore
    const kld: [string, number][] = [["Maximum", q.max], ["99.9%", q.p99_9], ["99.0%", q.p99], ["95.0%", q.p95], ["90.0%", q.p90], ["Median", q.median],
      ["10.0%", q.p10], ["5.0%", q.p5], ["1.0%", q.p1], ["0.1%", q.p0_1], ["Minimum", q.min]];
    for (const [label, v] of kld) nearLine(`${label} KLD`, v);
    const p = k.deltaP;
    // prettier-ignore
    const dp: [string, number][] = [["Maximum", p.max], ["99.9%", p.p99_9], ["99.0%", p.p99], ["95.0%", p.p95], ["90.0%", p.p90], ["75.0%", p.p75],
      ["Median", p.median], ["25.0%", p.p25], ["10.0%", p.p10], ["5.0%", p.p5], ["1.0%", p.p1], ["0.1%", p.p0_1], ["Minimum", p.min]];
    for (const [label, v] of dp) nearLine(`${label} Δp`, 100 * v);
    nearLine("Mean Δp", 100 * k.deltaPMean.value, 100 * k.deltaPMean.stderr);
    nearLine("RMS Δp", 100 * k.rmsDeltaP.value, 100 * k.rmsDeltaP.stderr);
    // top-1 agreement is a count: exact, and printed in llama-perplexity's layout
    const text = formatKld(k).split("\n");
    expect(text).toContain(printedLine("Same top p"));
    expect(text).toContain(printedLine("Mean PPL(base)"));
  });
});
