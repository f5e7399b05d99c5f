// FP8 throughput (quantized weights per second) of ours vs the NumPy referee (fixtures/tools/fp8_reference.py),
// measured in the same run on the same machine: (1) one 256×4096 matrix in memory, per scheme; (2) the whole
// fixture conversion (read BF16, quantize every matrix, write safetensors). Prints a table with the ratio ours ÷ NumPy.
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/fp8.bench.ts
import { it } from "vitest";
import { seededRandom } from "@moeq/formats";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import { quantizeFp8, FP8_SCHEMES } from "@moeq/quant";
import { convertToFp8 } from "@moeq/convert";
import { runPythonReferee } from "@moeq/test-support/python-referee";

const fixture = fileURLToPath(new URL("../../../fixtures/tiny-llama4", import.meta.url));
const ROWS = 256;
const COLS = 4096;
const MS = Number(process.env.MOEQ_BENCH_MS ?? 300);

function gaussian(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  const next = () => 1 - r(); // (0, 1]: log() stays finite
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.02 * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

it("FP8 quantization throughput vs NumPy", async () => {
  const w = gaussian(ROWS * COLS, 1);
  const rows: { what: string; scheme: string; oursMweightsS: number; numpyMweightsS: number; ratio: number }[] = [];
  const reps = Math.max(3, Math.round(MS / 30));
  for (const scheme of FP8_SCHEMES) {
    const bench = new Bench({ time: MS, iterations: 5, warmupIterations: 2 });
    bench.add("ours", () => void quantizeFp8(w, ROWS, COLS, scheme));
    await bench.run();
    const r = bench.getTask("ours")!.result as { latency: { mean: number } };
    const ours = (ROWS * COLS) / (r.latency.mean / 1e3);
    const numpy = (
      JSON.parse(runPythonReferee("fp8_reference.py", ["bench", String(ROWS), String(COLS), String(reps), scheme])) as { weights_per_second: number }
    ).weights_per_second;
    rows.push({
      what: `${ROWS}×${COLS} matrix`,
      scheme,
      oursMweightsS: +(ours / 1e6).toFixed(2),
      numpyMweightsS: +(numpy / 1e6).toFixed(2),
      ratio: +(ours / numpy).toFixed(2),
    });
  }
  const tmp = mkdtempSync(join(tmpdir(), "moeq-fp8-bench-"));
  try {
    for (const scheme of FP8_SCHEMES) {
      let weights = 0;
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) weights += (await convertToFp8(fixture, join(tmp, `${scheme}-${i}`), { scheme })).quantizedWeights;
      const ours = weights / ((performance.now() - t0) / 1e3);
      const numpy = (JSON.parse(runPythonReferee("fp8_reference.py", ["bench-fixture", fixture, scheme, String(reps)])) as { weights_per_second: number })
        .weights_per_second;
      rows.push({
        what: "fixture conversion",
        scheme,
        oursMweightsS: +(ours / 1e6).toFixed(2),
        numpyMweightsS: +(numpy / 1e6).toFixed(2),
        ratio: +(ours / numpy).toFixed(2),
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log("FP8 E4M3 quantization, single thread: moeq vs the NumPy referee (M weights/s; ratio = ours/NumPy)");
  console.table(rows);
}, 1_800_000);
