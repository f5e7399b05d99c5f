// `moeq fp8` killed with SIGKILL at seeded random points and rerun: it resumes by matrix from <out>.partial/ and
// ends with the bytes of an uninterrupted run (several safetensors files, the index, config and tokenizer files).
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { moeq } from "../test-utils/run-moeq.js";
import { expectSameFolder } from "../test-utils/kill-resume.js";
import { expectResumedRun } from "../test-utils/resume-run.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));
const work = suiteTempDir("moeq-fp8-resume-");

describe("moeq fp8: kill -9 at seeded random points, rerun", () => {
  it("resumes by matrix from <out>.partial and ends with the bytes of an uninterrupted run", async () => {
    const args = (out: string) => ["fp8", fixture, "-o", out, "--scheme", "per-channel", "--max-shard-size", "2MB", "--json"];
    const whole = join(work.path, "whole");
    const full = await moeq(...args(whole));
    expect(full.code, full.err).toBe(0);
    expect(JSON.parse(full.out).files.length).toBeGreaterThan(3);

    const killed = join(work.path, "killed");
    const r = await expectResumedRun({ args: args(killed), seed: 18, maxDelayMs: 100, outputs: [killed] });
    expect(JSON.parse(r.stdout).resumedUnits).toBeGreaterThan(0);
    expectSameFolder(killed, whole);
  }, 60_000);
});
