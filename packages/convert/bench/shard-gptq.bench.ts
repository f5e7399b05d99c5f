// Sharded gptq: N=2 local `moeq gptq --shard i/2 --threads 1` processes (meeting after each layer) vs one unsharded
// `--threads 1` process on a synthetic Scout-layout checkpoint. Prints wall times and each process's own CPU time:
// on a shared machine the wall-time speed-up mostly measures the other load, while unsharded CPU ÷ the busiest
// shard's CPU is the speed-up dedicated cores would give (every shard also runs the calibration passes itself).
// Run: npx vitest run --config vitest.bench.config.ts packages/convert/bench/shard-gptq.bench.ts
import { it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";

const BIN = fileURLToPath(new URL("../../cli/bin/moeq.js", import.meta.url));
const CALIB = fileURLToPath(new URL("../../../fixtures/data/brown-validation.txt", import.meta.url));
const N = 2;

/** Runs one moeq process through sh; returns its wall seconds and its own user+system CPU seconds (sh's `times`). */
async function run(args: string[]): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const quoted = args.map((a) => `'${a}'`).join(" ");
  const { stdout } = await promisify(execFile)("sh", ["-c", `"${process.execPath}" "${BIN}" ${quoted} >/dev/null\ntimes`], { encoding: "utf8" });
  const cpu = stdout
    .trim()
    .split("\n")
    .pop()!
    .split(/\s+/)
    .map((t) => /(\d+)m([\d.]+)s/.exec(t)!)
    .reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0);
  return { wall: (performance.now() - t0) / 1000, cpu };
}

it("sharded gptq (N=2 processes) vs unsharded: wall and per-process CPU", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "moeq-shard-gptq-bench-"));
  try {
    const dir = join(tmp, "ckpt");
    writeSyntheticLlama4(dir, {
      layout: "scout",
      hidden: 256,
      ffExpert: 256,
      ffDense: 512,
      heads: 4,
      kvHeads: 2,
      multimodal: false,
      layers: 2,
      experts: 8,
      seed: 4,
    });
    const args = (out: string) => ["gptq", dir, "--data", CALIB, "--nsamples", "4", "--seqlen", "64", "--threads", "1", "-o", out];
    const whole = await run(args(join(tmp, "whole")));
    const t0 = performance.now();
    const shards = await Promise.all(Array.from({ length: N }, (_, i) => run([...args(join(tmp, "sharded")), "--shard", `${i + 1}/${N}`])));
    const shardedWall = (performance.now() - t0) / 1000;
    const busiest = Math.max(...shards.map((s) => s.cpu));
    console.table([
      {
        unshardedS: +whole.wall.toFixed(2),
        shardedS: +shardedWall.toFixed(2),
        wallSpeedup: +(whole.wall / shardedWall).toFixed(2),
        unshardedCpuS: +whole.cpu.toFixed(2),
        shardCpuS: shards.map((s) => s.cpu.toFixed(2)).join(" "),
        cpuSpeedup: +(whole.cpu / busiest).toFixed(2),
        loadavg1m: +loadavg()[0].toFixed(1),
      },
    ]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
