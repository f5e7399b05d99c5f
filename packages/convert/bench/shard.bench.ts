// Sharded quantize: wall time of N=2 local `moeq quantize --shard i/2 --threads 1` processes vs one unsharded
// `--threads 1` process on the synthetic Maverick-layout checkpoint, with the CPU time of the children (so load
// from other processes shows: speed-up below N with a CPU-time ratio near 1 means the cores were busy elsewhere),
// and `moeq merge` throughput vs fs.copyFile of the same bytes. Prints os.loadavg() with the numbers.
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/shard.bench.ts
import { it } from "vitest";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { LlamaFType, convertHfToGguf, mergeShards, shardFilePath } from "@moeq/convert";

const BIN = fileURLToPath(new URL("../../cli/bin/moeq.js", import.meta.url));
const N = 2;

/** Runs `script` in sh, then `times`: returns the children's user+system CPU seconds. */
function shCpu(script: string): number {
  const out = execFileSync("sh", ["-c", `${script}\ntimes`], { encoding: "utf8" });
  const line = out.trim().split("\n").pop()!;
  return line
    .split(/\s+/)
    .map((t) => /(\d+)m([\d.]+)s/.exec(t)!)
    .reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
}

it("sharded quantize (N=2 processes) vs unsharded, and merge vs copyFile", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "moeq-shard-bench-"));
  try {
    const dir = join(tmp, "ckpt");
    writeSyntheticLlama4(dir, { layout: "maverick", seed: 5, hidden: 512, ffExpert: 256, layers: 4, experts: 8 });
    const f16 = join(tmp, "f16.gguf");
    await convertHfToGguf(dir, f16, { outtype: LlamaFType.MOSTLY_F16 });
    const node = process.execPath;
    const whole = join(tmp, "whole.gguf");
    const out = join(tmp, "sharded.gguf");
    const cmd = (o: string, extra: string): string => `"${node}" "${BIN}" quantize "${f16}" "${o}" q4_k_m --threads 1 ${extra}`;
    const cpu: Record<string, number[]> = { unsharded: [], sharded: [] };
    const bench = new Bench({ iterations: 3, warmupIterations: 1, time: 0 });
    bench.add("unsharded", () => void cpu.unsharded.push(shCpu(cmd(whole, ""))));
    bench.add(`sharded N=${N}`, () => {
      const jobs = Array.from({ length: N }, (_, i) => `${cmd(out, `--shard ${i + 1}/${N}`)} &`).join("\n");
      cpu.sharded.push(shCpu(`${jobs}\nwait`));
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
        unshardedS: +mean("unsharded").toFixed(2),
        shardedS: +mean(`sharded N=${N}`).toFixed(2),
        speedup: +speedup.toFixed(2),
        speedupPerN: +(speedup / N).toFixed(2),
        cpuRatioShardedOverUnsharded: +(avg(cpu.sharded) / avg(cpu.unsharded)).toFixed(2),
        mergeMiBs: +(bytes / 2 ** 20 / mean("merge")).toFixed(0),
        copyFileMiBs: +(bytes / 2 ** 20 / mean("copyFile")).toFixed(0),
        loadavg1m: +loadavg()[0].toFixed(1),
      },
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
