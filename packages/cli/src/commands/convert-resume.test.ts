// `moeq convert` killed with SIGKILL at seeded random points and rerun: it resumes by tensor from <out>.partial/
// and ends with the bytes of an uninterrupted run (the model and its mmproj).
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { moeq } from "../test-utils/run-moeq.js";
import { expectSameFolder } from "../test-utils/kill-resume.js";
import { expectResumedRun } from "../test-utils/resume-run.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));
const work = suiteTempDir("moeq-convert-resume-");

describe("moeq convert: kill -9 at seeded random points, rerun", () => {
  it("resumes by tensor from <out>.partial and ends with the bytes of an uninterrupted run", async () => {
    const args = (dir: string) => ["convert", fixture, "-o", join(dir, "m.gguf"), "--outtype", "q4_k_m", "--threads", "1", "--json"];
    const whole = join(work.path, "whole");
    const killed = join(work.path, "killed");
    mkdirSync(whole);
    mkdirSync(killed);
    const full = await moeq(...args(whole));
    expect(full.code, full.err).toBe(0);
    expect(full.err).not.toMatch(/resuming/);

    const r = await expectResumedRun({ args: args(killed), seed: 16, maxDelayMs: 100, outputs: [join(killed, "m.gguf"), join(killed, "mmproj-m.gguf")] });
    expect(JSON.parse(r.stdout).resumedUnits).toBeGreaterThan(0);
    expectSameFolder(killed, whole); // the same names and bytes
  }, 60_000);
});
