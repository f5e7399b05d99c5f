// Throughput of our f16/bf16 row codecs vs ggml's own rows (same process, same data), and how long
// a GGUF header with a Llama-4-sized vocabulary (202048 tokens) takes to write and to parse.
// Run: npx vitest run --config vitest.bench.config.ts packages/formats/bench
import { expect, it } from "vitest";
import { Bench } from "tinybench";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bf16ToF32Row, f16ToF32Row, f32ToBf16Row, f32ToF16Row, GGMLType, GGUFValueType, GGUFWriter, openGguf } from "@moeq/formats";
import { ggmlBf16ToFp32Row, ggmlFp16ToFp32Row, ggmlFp32ToBf16Row, ggmlFp32ToFp16Row } from "@moeq/test-support/ggml-gguf";

const N = 1 << 22;

it(`f16/bf16 rows vs ggml (${N} elements)`, async () => {
  const x = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 100);
  const h = f32ToF16Row(x);
  const b = f32ToBf16Row(x);
  const cases: [string, () => unknown, () => unknown][] = [
    ["fp32→fp16", () => f32ToF16Row(x, h), () => ggmlFp32ToFp16Row(x)],
    ["fp16→fp32", () => f16ToF32Row(h), () => ggmlFp16ToFp32Row(h)],
    ["fp32→bf16", () => f32ToBf16Row(x, b), () => ggmlFp32ToBf16Row(x)],
    ["bf16→fp32", () => bf16ToF32Row(b), () => ggmlBf16ToFp32Row(b)],
  ];
  const rows = [];
  for (const [name, ours, ggml] of cases) {
    const bench = new Bench({ time: Number(process.env.MOEQ_BENCH_MS ?? 400), warmupTime: 100 });
    bench.add("ours", ours).add("ggml", ggml);
    await bench.run();
    const ms = (t: string) => {
      const r = bench.getTask(t)?.result;
      if (!r || !("latency" in r)) throw new Error(`bench task ${t} did not finish`);
      return r.latency.mean;
    };
    rows.push({
      codec: name,
      oursMelemS: +(N / ms("ours") / 1e3).toFixed(0),
      ggmlMelemS: +(N / ms("ggml") / 1e3).toFixed(0),
      ratio: +(ms("ggml") / ms("ours")).toFixed(2),
    });
  }
  console.log("row codecs, single thread (Melem/s; ratio = ours/ggml throughput; ggml side includes koffi call + output allocation)");
  console.table(rows);
}, 600_000);

it("GGUF header with a 202048-token vocabulary: write and parse", async () => {
  const dir = await mkdtemp(join(tmpdir(), "moeq-bench-gguf-"));
  try {
    const path = join(dir, "vocab.gguf");
    const n = 202048;
    const t0 = performance.now();
    const w = new GGUFWriter(path);
    w.setString("general.architecture", "llama4");
    w.setArray(
      "tokenizer.ggml.tokens",
      GGUFValueType.STRING,
      Array.from({ length: n }, (_, i) => `token_${i}`),
    );
    w.setArray(
      "tokenizer.ggml.token_type",
      GGUFValueType.INT32,
      Array.from({ length: n }, () => 1),
    );
    w.setArray(
      "tokenizer.ggml.merges",
      GGUFValueType.STRING,
      Array.from({ length: n * 2 }, (_, i) => `m${i} x${i}`),
    );
    for (let i = 0; i < 1000; i++) w.addTensor(`blk.${i}.ffn_down_exps.weight`, [32, 4], GGMLType.F32);
    await w.writeHeader();
    for (let i = 0; i < 1000; i++) await w.writeTensorData(`blk.${i}.ffn_down_exps.weight`, new Uint8Array(512));
    await w.finish();
    const t1 = performance.now();
    const f = await openGguf(path);
    const t2 = performance.now();
    expect((f.get("tokenizer.ggml.tokens") as string[]).length).toBe(n);
    await f.close();
    console.log(`GGUF with ${n} tokens + ${2 * n} merges + 1000 tensors: write ${(t1 - t0).toFixed(0)} ms, openGguf ${(t2 - t1).toFixed(0)} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 600_000);
