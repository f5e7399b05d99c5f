// Throughput of our ggml block codecs vs llama.cpp's own ggml_quantize_chunk (single-threaded, same rows, same
// process), per type, with and without an importance matrix. Prints a table with the ratio ours ÷ ggml.
// Run: npx vitest run --config vitest.bench.config.ts packages/quant/bench
// (MOEQ_BENCH_TYPES=iq4_nl,iq2_xxs,… limits the types; MOEQ_BENCH_ROWS / MOEQ_BENCH_MS size the run;
// MOEQ_BENCH_ROUNDS=5 reports the median of 5 runs.)
import { expect, it } from "vitest";
import { Bench } from "tinybench";
import { GGMLType, ggmlTypeName } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES, dequantize, quantize, quantizeInto, quantizeRequiresImatrix, quantizedSize } from "@moeq/quant";
import { ggmlDequantize, ggmlDequantizeInto, ggmlQuantizeChunk, ggmlQuantizeChunkInto } from "@moeq/test-support/ggml-quants";
import { DISTRIBUTIONS, makeImatrix, makeRows } from "../src/test-utils/rows.js";

const NROWS = Number(process.env.MOEQ_BENCH_ROWS ?? 64);
const N_PER_ROW = 4096;
const ONLY = process.env.MOEQ_BENCH_TYPES?.toLowerCase().split(",");
const TYPES = (SUPPORTED_QUANT_TYPES as GGMLType[]).filter((t) => !ONLY || ONLY.includes(ggmlTypeName(t).toLowerCase()));

interface Row {
  type: string;
  imatrix: string;
  oursMelemS: number;
  ggmlMelemS: number;
  ratio: number;
}

const ROUNDS = Math.max(1, Number(process.env.MOEQ_BENCH_ROUNDS ?? 1));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Latency in ms of `ours` and of `ggml`: the median over MOEQ_BENCH_ROUNDS (default 1) tinybench runs of each
 * run's mean (MOEQ_BENCH_MS per task and run, default 300). Both tasks alternate within a run, so machine load
 * hits both alike; the median drops the rounds a neighbour's burst spoiled.
 */
async function medianLatencies(ours: () => void, ggml: () => void): Promise<{ oursMs: number; ggmlMs: number }> {
  const oursMs: number[] = [];
  const ggmlMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: Number(process.env.MOEQ_BENCH_MS ?? 300), iterations: 5, warmupTime: 50, warmupIterations: 2 });
    bench.add("ours", ours);
    bench.add("ggml", ggml);
    await bench.run();
    const ms = (name: string): number => {
      const r = bench.getTask(name)?.result;
      if (!r || !("latency" in r)) throw new Error(`bench task ${name} did not finish`);
      return r.latency.mean;
    };
    oursMs.push(ms("ours"));
    ggmlMs.push(ms("ggml"));
  }
  return { oursMs: median(oursMs), ggmlMs: median(ggmlMs) };
}

it(`quantize throughput vs ggml_quantize_chunk (${NROWS} rows × ${N_PER_ROW})`, async () => {
  const src = makeRows(DISTRIBUTIONS["gaussian-0.02"], NROWS, N_PER_ROW, 42);
  const im = makeImatrix(N_PER_ROW, 43);
  const n = NROWS * N_PER_ROW;
  const rows: Row[] = [];
  for (const type of TYPES) {
    // IQ2_XXS, IQ2_XS and IQ1_S exist only with an imatrix (ggml asserts one)
    for (const imatrix of quantizeRequiresImatrix(type) ? [im] : [null, im]) {
      // the timing is only meaningful if both sides produce the same bytes
      expect(Buffer.from(quantize(type, src, NROWS, N_PER_ROW, imatrix)).equals(ggmlQuantizeChunk(type, src, NROWS, N_PER_ROW, imatrix))).toBe(true);
      const ours = new Uint8Array(quantizedSize(type, NROWS, N_PER_ROW));
      const ref = new Uint8Array(ours.length);
      const { oursMs, ggmlMs } = await medianLatencies(
        () => quantizeInto(type, src, 0, NROWS, N_PER_ROW, imatrix, ours, 0),
        () => ggmlQuantizeChunkInto(type, src, ref, NROWS, N_PER_ROW, imatrix),
      );
      rows.push({
        type: ggmlTypeName(type),
        imatrix: imatrix ? "yes" : "no",
        oursMelemS: +(n / oursMs / 1e3).toFixed(1),
        ggmlMelemS: +(n / ggmlMs / 1e3).toFixed(1),
        ratio: +(ggmlMs / oursMs).toFixed(2),
      });
    }
  }
  console.log(
    `moeq quantize vs ggml_quantize_chunk (median of ${ROUNDS} rounds), ${NROWS}×${N_PER_ROW} gaussian rows, single thread (Melem/s; ratio = ours/ggml throughput)`,
  );
  console.table(rows);
}, 1_800_000);

it(`dequantize throughput vs ggml to_float (${NROWS} rows × ${N_PER_ROW})`, async () => {
  const src = makeRows(DISTRIBUTIONS["gaussian-0.02"], NROWS, N_PER_ROW, 42);
  const n = NROWS * N_PER_ROW;
  const im = makeImatrix(N_PER_ROW, 43);
  const rows: Array<{ type: string; oursMelemS: number; ggmlMelemS: number; ratio: number }> = [];
  for (const type of TYPES) {
    const q = quantize(type, src, NROWS, N_PER_ROW, quantizeRequiresImatrix(type) ? im : null);
    expect(Buffer.from(dequantize(type, q, n).buffer).equals(Buffer.from(ggmlDequantize(type, q, n).buffer))).toBe(true);
    const ours = new Float32Array(n);
    const ref = new Float32Array(n);
    const { oursMs, ggmlMs } = await medianLatencies(
      () => dequantize(type, q, n, 0, ours, 0),
      () => ggmlDequantizeInto(type, q, ref, n),
    );
    rows.push({
      type: ggmlTypeName(type),
      oursMelemS: +(n / oursMs / 1e3).toFixed(1),
      ggmlMelemS: +(n / ggmlMs / 1e3).toFixed(1),
      ratio: +(ggmlMs / oursMs).toFixed(2),
    });
  }
  console.log(`moeq dequantize vs ggml to_float (median of ${ROUNDS} rounds), ${n} elements, single thread (Melem/s; ratio = ours/ggml throughput)`);
  console.table(rows);
}, 1_800_000);
