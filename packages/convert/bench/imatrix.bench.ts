// Importance-matrix collection throughput (tokens/s) of `moeq imatrix` vs llama.cpp's llama-imatrix (built by
// test-support/build-llama-tools.sh) on the same F16 GGUF of the fixture, the same calibration text, ctx and chunks,
// the same thread count. llama-imatrix's collection time is its wall time with N chunks minus its wall time with
// --chunks 0 (same load, tokenization and save; best of 2 each), like ours: runImatrix's collection time (model load
// excluded). Prints the ratio (ours ÷ llama.cpp).
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/imatrix.bench.ts
import { it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertHfToGguf } from "../src/convert-hf.js";
import { LlamaFType } from "../src/ftype.js";
import { runImatrix } from "../src/imatrix-run.js";
import { runLlamaTool } from "@moeq/test-support/llama-tools";

const FIXTURE_DIR = fileURLToPath(new URL("../../../fixtures/tiny-llama4", import.meta.url));
const CALIBRATION = fileURLToPath(new URL("../../../fixtures/data/brown-calibration.txt", import.meta.url));
const THREADS = Number(process.env.MOEQ_BENCH_THREADS ?? 1);
const CHUNKS = Number(process.env.MOEQ_BENCH_IMATRIX_CHUNKS ?? 4);
const CTX = 256;

it(`imatrix collection tok/s vs llama-imatrix (${CHUNKS} × ${CTX} tokens, ${THREADS} thread(s), F16)`, async () => {
  const work = mkdtempSync(join(tmpdir(), "moeq-imatrix-bench-"));
  try {
    const model = join(work, "f16.gguf");
    await convertHfToGguf(FIXTURE_DIR, model, { outtype: LlamaFType.MOSTLY_F16, threads: 2 });
    const rows = [];
    const llamaSeconds = (chunks: number): number => {
      let best = Infinity;
      for (let i = 0; i < 2; i++) {
        const t0 = performance.now();
        runLlamaTool("llama-imatrix", [
          "-m",
          model,
          "-f",
          CALIBRATION,
          "-o",
          join(work, "ref.gguf"),
          "-c",
          String(CTX),
          "-b",
          String(CTX),
          "--chunks",
          String(chunks),
          "--no-ppl",
          "-t",
          String(THREADS),
        ]);
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      return best;
    };
    const llamaTokS = (CHUNKS * CTX) / (llamaSeconds(CHUNKS) - llamaSeconds(0));
    for (const exact of [false, true]) {
      const s = await runImatrix({
        model,
        text: readFileSync(CALIBRATION, "utf8"),
        dataFile: CALIBRATION,
        output: join(work, `ours-${exact}.gguf`),
        nCtx: CTX,
        nChunks: CHUNKS,
        threads: THREADS,
        exact,
      });
      rows.push({
        moeq: exact ? "--exact" : "default",
        oursTokS: +s.tokensPerSecond.toFixed(1),
        llamaImatrixTokS: +llamaTokS.toFixed(1),
        ratio: +(s.tokensPerSecond / llamaTokS).toFixed(3),
      });
    }
    console.log(`moeq imatrix vs llama-imatrix, fixture F16, ${CHUNKS} × ${CTX} tokens, ${THREADS} thread(s)`);
    console.table(rows);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}, 1_800_000);
