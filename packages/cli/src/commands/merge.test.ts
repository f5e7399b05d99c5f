// A local "job array": N processes of examples/cluster/shard-job.sh with the variables Kubernetes, Slurm and a
// GitHub Actions matrix set, then examples/cluster/merge.sh — the same commands the cluster examples run — and the
// merged GGUF compared with an unsharded `moeq quantize` (merge-calibrated.test.ts: the same for imatrix and gptq).
// Plus merge's exit 2 on a bad shard set.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LlamaFType, convertHfToGguf, quantizeGguf } from "@moeq/convert";
import { runMoeq } from "../test-utils/run-moeq.js";
import { ARRAY_ENVS, clusterScript as sh } from "../test-utils/cluster-scripts.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const FIXTURE_DIR = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const tmp = suiteTempDir("moeq-merge-");

describe("moeq merge", () => {
  it("a local job array (Kubernetes, Slurm and matrix variables) + merge.sh equals the unsharded quantize", async () => {
    const f16 = join(tmp.path, "tiny-f16.gguf");
    await convertHfToGguf(FIXTURE_DIR, f16, { outtype: LlamaFType.MOSTLY_F16 });
    const whole = join(tmp.path, "whole.gguf");
    await quantizeGguf(f16, whole, { ftype: LlamaFType.MOSTLY_Q4_K_M });
    const out = join(tmp.path, "array.gguf");
    const count = { MOEQ_SHARD_COUNT: "3" };
    const runs = await Promise.all(ARRAY_ENVS.map((env) => sh("shard-job.sh", [f16, out, "q4_k_m"], env)));
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
