import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { GGMLType } from "@moeq/formats";
import { EncodePool } from "./work-pool.js";
import { encodeUnit, type EncodeJob } from "./encode-rows.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

// The workers run the compiled dist/quantize-worker.js.
beforeAll(() => {
  execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: root, stdio: "inherit" });
});

function job(seed: number): EncodeJob {
  const data = new Float32Array(8 * 256);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 1000 + i * 0.37);
  return { type: GGMLType.Q4_K, data, nrows: 8, nPerRow: 256 };
}

describe("EncodePool", () => {
  it("runs jobs on all N workers and returns the inline bytes", async () => {
    const pool = new EncodePool(3);
    try {
      const results = await Promise.all(Array.from({ length: 9 }, (_, i) => pool.submit(job(i))));
      results.forEach((r, i) => expect(r.bytes).toEqual(encodeUnit(job(i)).bytes));
      expect(pool.jobsPerWorker).toHaveLength(3);
      expect(pool.jobsPerWorker.every((n) => n > 0)).toBe(true);
      expect(pool.jobsPerWorker.reduce((a, b) => a + b, 0)).toBe(9);
    } finally {
      await pool.close();
    }
  });

  it("fails with THREADS_FAILED when the worker file is missing instead of running on one thread", () => {
    expect(() => new EncodePool(2, "/nonexistent/quantize-worker.js")).toThrow(/THREADS_FAILED|is missing/);
    expect(() => new EncodePool(1, "/nonexistent/quantize-worker.js")).not.toThrow();
  });
});
