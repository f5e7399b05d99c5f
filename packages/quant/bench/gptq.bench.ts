// GPTQ solve time (damping, Cholesky inverse, blocked error feedback; 4-bit, group 128, asym) of ours vs the torch
// CPU referee (fixtures/tools/gptq_ref.py, float64 like ours, one thread like ours) on the same W and H.
// Prints seconds and the ratio torch ÷ ours (1 = as fast as torch; the goal is ≥ 0.67).
// Shapes: a square Linear (MOEQ_GPTQ_BENCH_LINEAR, default 1024; 4096 is the full-size case and takes minutes),
// the fixture's expert gate/up [256×256] and down [256×256], and a Maverick expert scaled down by
// MOEQ_GPTQ_BENCH_MAVERICK_DIV (default 8): gate/up [8192/d × 5120/d], down [5120/d × 8192/d].
// Run: npx vitest run --config vitest.bench.config.ts packages/quant/bench/gptq.bench.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { addRows, createHessian, gptqQuantize, hessianOf } from "@moeq/quant";
import { rng } from "../src/test-utils/rows.js";

const referee = fileURLToPath(new URL("../../../fixtures/tools/gptq_ref.py", import.meta.url));
const REPEATS = 2;

/** W [rows × cols] and H from 2·cols correlated input rows (low-rank part plus noise). */
function problem(rows: number, cols: number, seed: number): { W: Float32Array; H: Float64Array } {
  const r = rng(seed);
  const g = () => (r() + r() + r() - 1.5) * 2;
  const basis = Array.from({ length: 8 }, () => Float32Array.from({ length: cols }, g));
  const n = 2 * cols;
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
  const lin = Number(process.env.MOEQ_GPTQ_BENCH_LINEAR ?? 1024);
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
    const ours: number[] = [];
    const dirs: string[] = [];
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
      let best = Infinity;
      for (let k = 0; k < REPEATS; k++) {
        const t0 = performance.now();
        gptqQuantize(W, H, rows, cols, opts);
        best = Math.min(best, (performance.now() - t0) / 1e3);
      }
      ours.push(best);
    });
    const py = spawnSync("/usr/bin/python3", [referee, "--time", String(REPEATS), ...dirs], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    expect(py.status, py.stderr).toBe(0);
    const torch = (JSON.parse(py.stdout) as { seconds: number[] }).seconds;
    console.log("GPTQ solve (4-bit g128 asym, block 128, float64, one thread), best of 2: ours vs torch CPU (ratio = torch ÷ ours)");
    console.table(
      shapes.map(([name], i) => ({ shape: name, oursS: +ours[i].toFixed(3), torchS: +torch[i].toFixed(3), ratio: +(torch[i] / ours[i]).toFixed(2) })),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
