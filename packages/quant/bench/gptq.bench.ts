// GPTQ solve time (damping, Cholesky inverse, blocked error feedback; 4-bit, group 128, asym) of ours vs the torch
// CPU referee (fixtures/tools/gptq_ref.py, float64 like ours) on the same W and H, both on one thread: gptqQuantize
// solves one Linear on the calling thread, and torch runs with set_num_threads(1) and OMP/OpenBLAS/MKL_NUM_THREADS=1.
// Prints wall and CPU seconds (CPU = this process's user + system time; prefer its ratio on a shared machine), the
// ratios torch ÷ ours (1 = as fast as torch; the goal is ≥ 0.67) and the load average before and after.
// Shapes: the acceptance case, one 4096×4096 Linear (MOEQ_GPTQ_BENCH_LINEAR, default 4096), the fixture's expert
// gate/up [256×256] and down [256×256], and a Maverick expert scaled down by MOEQ_GPTQ_BENCH_MAVERICK_DIV (default
// 8): gate/up [8192/d × 5120/d], down [5120/d × 8192/d]. Best of 5 runs each (1 for inputs of 2048 columns or more).
// Run: npx vitest run --config vitest.bench.config.ts packages/quant/bench/gptq.bench.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { addRows, createHessian, gptqQuantize, hessianOf } from "@moeq/quant";
import { rng } from "../src/test-utils/rows.js";

const referee = fileURLToPath(new URL("../../../fixtures/tools/gptq_ref.py", import.meta.url));

/** Best-of count: small solves take milliseconds and are noisy on a shared machine; large ones take seconds. */
const repeatsFor = (cols: number): number => (cols >= 2048 ? 1 : 5);
const load = (): string =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");

/**
 * W [rows × cols] and H from min(2·cols, 1024) correlated input rows (low-rank part plus noise); the cap keeps the
 * Hessian accumulation of the 4096 case to seconds (H is then rank-deficient and the 1 % damping makes it definite).
 */
function problem(rows: number, cols: number, seed: number): { W: Float32Array; H: Float64Array } {
  const r = rng(seed);
  const g = () => (r() + r() + r() - 1.5) * 2;
  const basis = Array.from({ length: 8 }, () => Float32Array.from({ length: cols }, g));
  const n = Math.min(2 * cols, 1024);
  const X = new Float32Array(n * cols);
  for (let t = 0; t < n; t++) {
    const a = basis.map(() => g());
    for (let c = 0; c < cols; c++) X[t * cols + c] = a.reduce((s, v, k) => s + v * basis[k][c], 0) + 0.5 * g();
  }
  const acc = createHessian(cols);
  addRows(acc, X, n);
  return { W: Float32Array.from({ length: rows * cols }, () => g() * 0.02), H: hessianOf(acc) };
}

it("GPTQ solve time vs torch CPU on the same H", () => {
  const lin = Number(process.env.MOEQ_GPTQ_BENCH_LINEAR ?? 4096);
  const div = Number(process.env.MOEQ_GPTQ_BENCH_MAVERICK_DIV ?? 8);
  const shapes: [string, number, number][] = [
    [`Linear ${lin}×${lin}`, lin, lin],
    ["fixture expert gate/up 256×256", 256, 256],
    ["fixture expert down 256×256", 256, 256],
    [`Maverick expert gate/up ${8192 / div}×${5120 / div}`, 8192 / div, 5120 / div],
    [`Maverick expert down ${5120 / div}×${8192 / div}`, 5120 / div, 8192 / div],
  ];
  const work = mkdtempSync(join(tmpdir(), "moeq-gptq-bench-"));
  const opts = { bits: 4, groupSize: 128, sym: false };
  try {
    const ours: { wall: number; cpu: number }[] = [];
    const dirs: string[] = [];
    const loadBefore = load();
    shapes.forEach(([, rows, cols], i) => {
      const { W, H } = problem(rows, cols, 11 + i);
      const dir = join(work, `job-${i}`);
      mkdirSync(dir);
      writeFileSync(
        join(dir, "job.json"),
        JSON.stringify({ rows, cols, bits: 4, group_size: 128, sym: false, act_order: false, static_groups: false, damp: 0.01, block_size: 128 }),
      );
      writeFileSync(join(dir, "W.f32"), new Uint8Array(W.buffer));
      writeFileSync(join(dir, "H.f64"), new Uint8Array(H.buffer));
      dirs.push(dir);
      const best = { wall: Infinity, cpu: Infinity };
      for (let k = 0; k < repeatsFor(cols); k++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        gptqQuantize(W, H, rows, cols, opts);
        const c = process.cpuUsage(c0);
        best.wall = Math.min(best.wall, (performance.now() - t0) / 1e3);
        best.cpu = Math.min(best.cpu, (c.user + c.system) / 1e6);
      }
      ours.push(best);
    });
    const torch = dirs.map((dir, i) => {
      const py = spawnSync("/usr/bin/python3", [referee, "--time", String(repeatsFor(shapes[i][2])), dir], {
        encoding: "utf8",
        env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
      });
      expect(py.status, py.stderr).toBe(0);
      const t = JSON.parse(py.stdout) as { seconds: number[]; cpu_seconds: number[]; threads: number };
      return { wall: t.seconds[0], cpu: t.cpu_seconds[0], threads: t.threads };
    });
    console.log(
      `GPTQ solve (4-bit g128 asym, block 128, float64), ours on 1 thread vs torch CPU on ${torch[0].threads} thread(s); ` +
        `best of 5 (1 from 2048 columns); ratio = torch ÷ ours; loadavg before ${loadBefore}, after ${load()}`,
    );
    // prettier-ignore
    console.table(
      shapes.map(([name], i) => ({
        shape: name,
        oursWallS: +ours[i].wall.toFixed(3), torchWallS: +torch[i].wall.toFixed(3), wallRatio: +(torch[i].wall / ours[i].wall).toFixed(2),
        oursCpuS: +ours[i].cpu.toFixed(3), torchCpuS: +torch[i].cpu.toFixed(3), cpuRatio: +(torch[i].cpu / ours[i].cpu).toFixed(2),
      })),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
