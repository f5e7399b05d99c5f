// A local "job array": N processes of examples/cluster/shard-job.sh with the variables Kubernetes, Slurm and a
// GitHub Actions matrix set, then examples/cluster/merge.sh — the same commands the cluster examples run — and the
// merged GGUF compared with an unsharded `moeq quantize`. Plus merge's exit 2 on a bad shard set.
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LlamaFType, convertHfToGguf, quantizeGguf } from "@moeq/convert";
import { runMoeq } from "../test-utils/run-moeq.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const FIXTURE_DIR = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/moeq.js", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../../examples/cluster", import.meta.url));
const tmp = suiteTempDir("moeq-merge-");

function sh(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const p = spawn("sh", [join(EXAMPLES, script), ...args], { env: { ...process.env, MOEQ: `${process.execPath} ${BIN}`, ...env } });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, err }));
  });
}

describe("moeq merge", () => {
  it("a local job array (Kubernetes, Slurm and matrix variables) + merge.sh equals the unsharded quantize", async () => {
    const f16 = join(tmp.path, "tiny-f16.gguf");
    await convertHfToGguf(FIXTURE_DIR, f16, { outtype: LlamaFType.MOSTLY_F16 });
    const whole = join(tmp.path, "whole.gguf");
    await quantizeGguf(f16, whole, { ftype: LlamaFType.MOSTLY_Q4_K_M });
    const out = join(tmp.path, "array.gguf");
    const count = { MOEQ_SHARD_COUNT: "3" };
    const runs = await Promise.all([
      sh("shard-job.sh", [f16, out, "q4_k_m"], { ...count, JOB_COMPLETION_INDEX: "0" }),
      sh("shard-job.sh", [f16, out, "q4_k_m"], { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_COUNT: "3" }),
      sh("shard-job.sh", [f16, out, "q4_k_m"], { ...count, MOEQ_SHARD_INDEX: "3" }),
    ]);
    for (const r of runs) expect(r).toMatchObject({ code: 0 });
    expect(existsSync(out)).toBe(false);
    expect(await sh("merge.sh", [out], count)).toMatchObject({ code: 0 });
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);

    const again = join(tmp.path, "again.gguf");
    const r = await runMoeq(["merge", `${out}.shard-1-of-3`, `${out}.shard-3-of-3`, "-o", again]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/missing shard 2 of 3/);
    expect(existsSync(again)).toBe(false);
  }, 120_000);
});
