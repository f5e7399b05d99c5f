// Golden check against llama.cpp's own llama-perplexity (built from the llama.cpp source node-llama-cpp 3.21.1
// ships): testdata/tiny-llama-seed3-c64.kld was written by
//   llama-perplexity -m tiny.gguf -f corpus.txt -c 64 --chunks 4 -t 2 --kl-divergence-base tiny-llama-seed3-c64.kld
// with tiny.gguf = writeTinyLlamaGguf({seed: 3}) and corpus.txt = fakeCorpus(3000). It printed
//   Final estimate: PPL = 475.0884 +/- 21.42812
// and `llama-perplexity -m tiny-noisy.gguf (seed 3, noise 0.3) --kl-divergence-base … --kl-divergence -c 64` printed
// the statistics asserted below.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalModel } from "../model.js";
import { writeTinyLlamaGguf } from "@moeq/test-support/tiny-gguf";
import { fakeCorpus } from "@moeq/test-support/fake-model";
import { openEvalModel } from "../engines/index.js";
import { perplexity } from "./perplexity.js";
import { formatKld, klDivergence } from "./kld.js";
import { KldFileReader, kldRowsPerChunk } from "./kld-file.js";
import { kldRowWords } from "./log-softmax.js";

const golden = fileURLToPath(new URL("./testdata/tiny-llama-seed3-c64.kld", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "moeq-golden-"));
let base: EvalModel;
let noisy: EvalModel;

beforeAll(async () => {
  writeTinyLlamaGguf(join(dir, "tiny.gguf"), { seed: 3 });
  writeTinyLlamaGguf(join(dir, "tiny-noisy.gguf"), { seed: 3, noise: 0.3 });
  base = await openEvalModel(join(dir, "tiny.gguf"), { engine: "llama.cpp", threads: 2 });
  noisy = await openEvalModel(join(dir, "tiny-noisy.gguf"), { engine: "llama.cpp", threads: 2 });
});
afterAll(async () => {
  await base?.close();
  await noisy?.close();
});

describe("against llama-perplexity's own output", () => {
  it("the test model is the one the golden file was made from", () => {
    const sha = createHash("sha256")
      .update(readFileSync(join(dir, "tiny.gguf")))
      .digest("hex");
    expect(sha).toBe("3ec10bfeac051cadb20489b28e6764fb63a511ce99e2e18f85be70a871e8c4d8");
  });

  it("PPL matches llama-perplexity's 'Final estimate' to every printed digit; our .kld has its size, header and tokens byte for byte, every logit code within ±1", async () => {
    const ours = join(dir, "ours.kld");
    const r = await perplexity(base, fakeCorpus(3000), { ctx: 64, chunks: 4, saveKldBase: ours });
    expect(r.ppl.toFixed(4)).toBe("475.0884");
    expect(r.pplStderr.toFixed(5)).toBe("21.42812");
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
    expect(k.pplBase.value.toFixed(6)).toBe("475.087944");
    expect(k.pplBase.stderr.toFixed(6)).toBe("21.428164");
    // The quantized side goes through node-llama-cpp's float32 probabilities instead of raw logits, so allow
    // 2 units in the last printed digit or 1e-7 relative, whichever is larger.
    const near = (actual: number, printed: string) => {
      const unit = 10 ** -(printed.split(".")[1]?.length ?? 0);
      const tol = Math.max(2 * unit, 1e-7 * Math.abs(Number(printed))) + 1e-12;
      expect.soft(Math.abs(actual - Number(printed)), `${actual} vs llama.cpp ${printed}`).toBeLessThanOrEqual(tol);
    };
    near(k.pplQ.value, "402.275769");
    near(k.pplQ.stderr, "19.510187");
    near(100 * k.lnPplCorrelation, "56.77");
    near(k.lnPplRatio.value, "-0.166362");
    near(k.lnPplRatio.stderr, "0.043620");
    near(k.pplRatio.value, "0.846740");
    near(k.pplDiff.value, "-72.812175");
    near(k.kldMean.value, "0.175260");
    near(k.kldMean.stderr, "0.005280");
    const kld = ["0.370913", "0.369384", "0.348848", "0.287164", "0.248852", "0.166351", "0.108155", "0.098614", "0.078336", "0.073006", "0.072561"];
    [k.kld.max, k.kld.p99_9, k.kld.p99, k.kld.p95, k.kld.p90, k.kld.median, k.kld.p10, k.kld.p5, k.kld.p1, k.kld.p0_1, k.kld.min].forEach((v, i) =>
      near(v, kld[i]),
    );
    const dp = ["0.802", "0.775", "0.582", "0.320", "0.237", "0.101", "0.018", "-0.040", "-0.083", "-0.133", "-0.207", "-0.266", "-0.272"];
    [
      k.deltaP.max,
      k.deltaP.p99_9,
      k.deltaP.p99,
      k.deltaP.p95,
      k.deltaP.p90,
      k.deltaP.p75,
      k.deltaP.median,
      k.deltaP.p25,
      k.deltaP.p10,
      k.deltaP.p5,
      k.deltaP.p1,
      k.deltaP.p0_1,
      k.deltaP.min,
    ].forEach((v, i) => near(100 * v, dp[i]));
    near(100 * k.deltaPMean.value, "0.052");
    near(100 * k.deltaPMean.stderr, "0.014");
    near(100 * k.rmsDeltaP.value, "0.160");
    near(100 * k.rmsDeltaP.stderr, "0.021");
    // top-1 agreement is a count: exact, and printed in llama-perplexity's layout
    const text = formatKld(k).split("\n");
    expect(text).toContain("Same top p: 12.097 ± 2.940 %");
    expect(text).toContain("Mean PPL(base)                : 475.087944 ±  21.428164");
  });
});
