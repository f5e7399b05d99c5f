// `moeq imatrix` and `moeq gptq` as local job arrays: three processes of examples/cluster/shard-cmd.sh each, with the
// Kubernetes, Slurm and generic variables set (the gptq processes meeting at their per-layer barrier in
// <out>.parts/), then examples/cluster/merge.sh, compared with the unsharded runs (imatrix with --per-chunk-sums).
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LlamaFType, convertHfToGguf } from "@moeq/convert";
import { TINY_GPTQ_SCOUT, writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { runMoeq } from "../test-utils/run-moeq.js";
import { ARRAY_ENVS, clusterScript as sh } from "../test-utils/cluster-scripts.js";
import { expectSameFolder } from "../test-utils/kill-resume.js";

const FIXTURE_DIR = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const CALIBRATION = fileURLToPath(new URL("../../../../fixtures/data/brown-calibration.txt", import.meta.url));
const tmp = suiteTempDir("moeq-merge-cal-");

describe("moeq merge after calibrated job arrays", () => {
  it("imatrix and gptq through shard-cmd.sh as local arrays + merge.sh equal their unsharded runs", async () => {
    const f16 = join(tmp.path, "tiny-f16.gguf");
    if (!existsSync(f16)) await convertHfToGguf(FIXTURE_DIR, f16, { outtype: LlamaFType.MOSTLY_F16 });
    const text = join(tmp.path, "cal.txt");
    writeFileSync(text, readFileSync(CALIBRATION, "utf8").slice(0, 8_000));
    const imArgs = (out: string) => ["imatrix", f16, "--data", text, "--ctx", "32", "--chunks", "3", "-o", out];
    const wholeIm = join(tmp.path, "whole-imatrix.gguf");

    const ckpt = join(tmp.path, "ckpt");
    writeSyntheticLlama4(ckpt, TINY_GPTQ_SCOUT);
    const gArgs = (out: string) => ["gptq", ckpt, "--data", CALIBRATION, "--nsamples", "2", "--seqlen", "32", "--group-size", "32", "-o", out];
    const wholeG = join(tmp.path, "whole-gptq");

    const im = join(tmp.path, "array-imatrix.gguf");
    const g = join(tmp.path, "array-gptq");
    // the unsharded runs alongside the arrays
    const runs = await Promise.all([
      runMoeq([...imArgs(wholeIm), "--per-chunk-sums"]),
      runMoeq(gArgs(wholeG)),
      ...ARRAY_ENVS.map((env) => sh("shard-cmd.sh", imArgs(im), env)),
      ...ARRAY_ENVS.map((env) => sh("shard-cmd.sh", gArgs(g), env)),
    ]);
    for (const r of runs) expect(r).toMatchObject({ code: 0 });
    for (const out of [im, g]) expect(await sh("merge.sh", [out], { MOEQ_SHARD_COUNT: "3" })).toMatchObject({ code: 0 });
    expect(readFileSync(im).equals(readFileSync(wholeIm))).toBe(true);
    expectSameFolder(g, wholeG);
  }, 120_000);
});
