// Sharded quantize: wall time of N local `moeq quantize --shard i/N --threads 1` processes vs one unsharded
// `--threads 1` process on a synthetic Maverick-layout checkpoint (by default the layout of
// scripts/synthetic-checkpoint.sh's synthetic_maverick_4_layers: hidden 512, 128 experts of ff 512, 4 layers, so
// the per-process start-up is a small part of the work), with the processes' CPU time and run-queue wait (from
// /proc/<pid>/task/*/schedstat: time runnable with no free core, i.e. cores taken by other load), each process's
// in-process seconds (its --json summary: start-up excluded), the start-up of `moeq quantize --help` alone (what each shard process loads), and `moeq merge`
// throughput vs fs.copyFile of the same bytes. Prints os.loadavg() before and after, since the machine is shared.
// cpuBoundSpeedup = the unsharded process's CPU seconds / the busiest shard process's: the speed-up N processes would
// give with a free core each (start-up and shard imbalance included), whatever else the machine is running.
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/shard.bench.ts
// Env: MOEQ_BENCH_SHARDS (N, default 2), MOEQ_BENCH_ITERATIONS (default 2), MOEQ_BENCH_SMALL=1 (the 26.7 MiB
// checkpoint of the first measurement: hidden 512, 8 experts of ff 256).
import { it } from "vitest";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import { writeSyntheticLlama4, type SyntheticLlama4Options } from "@moeq/test-support/synthetic-llama4";
import { LlamaFType, convertHfToGguf, mergeShards, shardFilePath } from "@moeq/convert";

const BIN = fileURLToPath(new URL("../../cli/bin/moeq.js", import.meta.url));
const N = Number(process.env.MOEQ_BENCH_SHARDS ?? 2);
const ITERATIONS = Number(process.env.MOEQ_BENCH_ITERATIONS ?? 2);
// prettier-ignore
const CHECKPOINT: SyntheticLlama4Options = process.env.MOEQ_BENCH_SMALL
  ? { layout: "maverick", seed: 5, hidden: 512, ffExpert: 256, layers: 4, experts: 8 }
  : { layout: "maverick", seed: 5, hidden: 512, ffExpert: 512, ffDense: 1024, layers: 4, experts: 128, heads: 8, kvHeads: 2, headDim: 64, shards: 2 };

/** What a set of processes used: wall seconds, CPU seconds and seconds spent runnable but waiting for a core. */
interface Used {
  readonly wall: number;
  readonly cpu: number;
  readonly runqueue: number;
  /** CPU seconds of the busiest process: the wall time the set would take with a free core per process. */
  readonly maxProcessCpu: number;
}

/** Sums /proc/<pid>/task/<tid>/schedstat (ns on a CPU, ns waiting on a run queue) into `last`, per thread. */
function sampleSchedstat(pid: number, last: Map<string, [number, number]>): void {
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
      last.set(`${pid}/${tid}`, [run, wait]);
    }
  } catch {
    /* exited between the listing and the read: its last sample stands */
  }
}

/**
 * Runs `node moeq.js <args>` for each entry at once (stdout to `outs[i]`), sampling each process's threads'
 * schedstat every 20 ms: CPU time, and run-queue wait (runnable, no free core: load from other processes).
 */
async function runMeasured(argsList: readonly string[][], outs: readonly string[]): Promise<Used> {
  const t0 = performance.now();
  const last = new Map<string, [number, number]>();
  const children = argsList.map((args, i) => spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", openSync(outs[i]!, "w"), "ignore"] }));
  const timer = setInterval(() => children.forEach((c) => sampleSchedstat(c.pid!, last)), 20);
  const codes = await Promise.all(children.map((c) => new Promise<number | null>((r) => c.on("exit", (code) => r(code)))));
  clearInterval(timer);
  if (codes.some((c) => c !== 0)) throw new Error(`moeq ${argsList[0]!.join(" ")} failed: exit ${codes.join(", ")}`);
  let run = 0;
  let wait = 0;
  const perProcess = new Map<string, number>();
  for (const [key, [r, w]] of last) {
    run += r;
    wait += w;
    const pid = key.split("/")[0]!;
    perProcess.set(pid, (perProcess.get(pid) ?? 0) + r);
  }
  return { wall: (performance.now() - t0) / 1000, cpu: run / 1e9, runqueue: wait / 1e9, maxProcessCpu: Math.max(...perProcess.values()) / 1e9 };
}

const load = (): number => +loadavg()[0].toFixed(1);

it(`sharded quantize (N=${N} processes) vs unsharded, and merge vs copyFile`, async () => {
  const tmp = mkdtempSync(join(tmpdir(), "moeq-shard-bench-"));
  try {
    const dir = join(tmp, "ckpt");
    writeSyntheticLlama4(dir, CHECKPOINT);
    const f16 = join(tmp, "f16.gguf");
    await convertHfToGguf(dir, f16, { outtype: LlamaFType.MOSTLY_F16 });
    rmSync(dir, { recursive: true, force: true });
    const whole = join(tmp, "whole.gguf");
    const out = join(tmp, "sharded.gguf");
    const args = (o: string, extra: string[]): string[] => ["quantize", f16, o, "q4_k_m", "--threads", "1", "--json", ...extra];
    const json = (i: number): string => join(tmp, `summary-${i}.json`);
    const seconds = (path: string): number => (JSON.parse(readFileSync(path, "utf8")) as { seconds: number }).seconds;
    const used: Record<string, Used[]> = { startup: [], unsharded: [], sharded: [] };
    const inProcess: Record<string, number[]> = { unsharded: [], shardMax: [], shardMin: [] };
    const loadBefore = load();
    const bench = new Bench({ iterations: ITERATIONS, warmupIterations: 0, time: 0 });
    bench.add("startup", async () => void used.startup.push(await runMeasured([["quantize", "--help"]], [json(0)])));
    bench.add("unsharded", async () => {
      used.unsharded.push(await runMeasured([args(whole, [])], [json(0)]));
      inProcess.unsharded.push(seconds(json(0)));
    });
    bench.add(`sharded N=${N}`, async () => {
      const list = Array.from({ length: N }, (_, i) => args(out, ["--shard", `${i + 1}/${N}`]));
      used.sharded.push(
        await runMeasured(
          list,
          list.map((_, i) => json(i + 1)),
        ),
      );
      const s = Array.from({ length: N }, (_, i) => seconds(json(i + 1)));
      inProcess.shardMax.push(Math.max(...s));
      inProcess.shardMin.push(Math.min(...s));
    });
    const shards = Array.from({ length: N }, (_, i) => shardFilePath(out, { index: i + 1, count: N }));
    const merged = join(tmp, "merged.gguf");
    const copy = join(tmp, "copy.gguf");
    bench.add("merge", async () => void (await mergeShards(shards, merged)));
    bench.add("copyFile", () => copyFileSync(whole, copy));
    await bench.run();
    const mean = (name: string): number => (bench.getTask(name)!.result as { latency: { mean: number } }).latency.mean / 1e3;
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const bytes = statSync(whole).size;
    const speedup = mean("unsharded") / mean(`sharded N=${N}`);
    console.table([
      {
        f16MiB: +(statSync(f16).size / 2 ** 20).toFixed(1),
        shards: N,
        startupS: +mean("startup").toFixed(2),
        unshardedS: +mean("unsharded").toFixed(2),
        shardedS: +mean(`sharded N=${N}`).toFixed(2),
        speedup: +speedup.toFixed(2),
        speedupPerN: +(speedup / N).toFixed(2),
        unshardedCpuS: +avg(used.unsharded.map((u) => u.cpu)).toFixed(2),
        shardedCpuS: +avg(used.sharded.map((u) => u.cpu)).toFixed(2),
        startupCpuS: +avg(used.startup.map((u) => u.cpu)).toFixed(2),
        cpuBoundSpeedup: +(avg(used.unsharded.map((u) => u.maxProcessCpu)) / avg(used.sharded.map((u) => u.maxProcessCpu))).toFixed(2),
        unshardedRunqueueS: +avg(used.unsharded.map((u) => u.runqueue)).toFixed(2),
        shardedRunqueueS: +avg(used.sharded.map((u) => u.runqueue)).toFixed(2),
        unshardedInProcS: +avg(inProcess.unsharded).toFixed(2),
        shardInProcMaxS: +avg(inProcess.shardMax).toFixed(2),
        shardInProcMinS: +avg(inProcess.shardMin).toFixed(2),
        mergeMiBs: +(bytes / 2 ** 20 / mean("merge")).toFixed(0),
        copyFileMiBs: +(bytes / 2 ** 20 / mean("copyFile")).toFixed(0),
        loadavg1mBefore: loadBefore,
        loadavg1mAfter: load(),
      },
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
