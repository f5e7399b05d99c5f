import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { addRows, createHessian } from "@moeq/quant";
import { SolvePool } from "./solve-pool.js";
import { solveLinear, type SolveJob } from "./solve-linear.js";

const work = mkdtempSync(join(tmpdir(), "moeq-solve-pool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function job(seed: number): SolveJob {
  const rows = 32,
    cols = 32;
  const W = new Float32Array(rows * cols).map((_, i) => Math.sin(seed * 31 + i * 0.7));
  const acc = createHessian(cols);
  addRows(
    acc,
    new Float32Array(64 * cols).map((_, i) => Math.sin(seed + i * 1.3)),
    64,
  );
  const settings = { bits: 4, groupSize: 32, sym: false, descAct: false, staticGroups: false, damp: 0.01, dampAutoIncrement: 0.01 };
  return { module: `m${seed}`, W, rows, cols, sum: acc.sum, n: acc.n, rtnReason: null, settings };
}

describe("SolvePool", () => {
  it("solves on every worker and gives what solving inline gives", async () => {
    const pool = await SolvePool.start(3);
    try {
      const jobs = Array.from({ length: 12 }, (_, i) => job(i));
      const got = await Promise.all(jobs.map((j) => pool.submit(j)));
      expect(got).toEqual(jobs.map((j) => solveLinear(j)));
      expect(pool.threadsUsed.size).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it("refuses to start (THREADS_FAILED) when the worker file is missing or throws on load", async () => {
    await expect(SolvePool.start(2, join(work, "missing.js"))).rejects.toThrow(/cannot start 2 GPTQ worker threads: .*missing\.js is missing/);
    const bad = join(work, "bad.mjs");
    writeFileSync(bad, "throw new Error('no kernels here');\n");
    await expect(SolvePool.start(2, bad)).rejects.toMatchObject({ code: "THREADS_FAILED", message: expect.stringMatching(/no kernels here/) });
    await expect(SolvePool.start(0)).rejects.toThrow(/--threads must be a positive integer/);
  });
});
