// `moeq quantize` killed with SIGKILL at seeded random points and rerun: it resumes by tensor from <out>.partial/
// and ends with the bytes of an uninterrupted run; a rerun with other arguments starts over, a concurrent one is refused.
import { beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectBadInputLine, moeq } from "../test-utils/run-moeq.js";
import { expectResumedRun } from "../test-utils/resume-run.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));
const work = suiteTempDir("moeq-quantize-resume-");
let f16: string;
let whole: string;
// --expert-errors too: a resumed run sums the journaled per-tensor errors with its own, in tensor order
const args = (out: string) => ["quantize", f16, out, "Q4_K_M", "--threads", "1", "--json", "--expert-errors", `${out}.errors.json`];

beforeAll(async () => {
  f16 = join(work.path, "f16.gguf");
  expect((await moeq("convert", fixture, "-o", f16, "--outtype", "f16", "--threads", "1")).code).toBe(0);
  whole = join(work.path, "whole.gguf");
  const r = await moeq(...args(whole));
  expect(r.code, r.err).toBe(0);
}, 60_000);

describe("moeq quantize: kill -9 at seeded random points, rerun", () => {
  it("resumes by tensor from <out>.partial and ends with the bytes of an uninterrupted run", async () => {
    const killed = join(work.path, "killed.gguf");
    await expectResumedRun({ args: args(killed), seed: 17, maxDelayMs: 60, outputs: [killed] });
    expect(readFileSync(killed).equals(readFileSync(whole))).toBe(true);
    expect(JSON.parse(readFileSync(`${whole}.errors.json`, "utf8")).length).toBeGreaterThan(10);
    expect(readFileSync(`${killed}.errors.json`, "utf8")).toBe(readFileSync(`${whole}.errors.json`, "utf8"));
  }, 60_000);

  it("a killed --shard run resumes its shard file, which merges byte-identical", async () => {
    const out = join(work.path, "sharded.gguf");
    const shardArgs = (i: number) => ["quantize", f16, out, "Q4_K_M", "--threads", "1", "--json", "--shard", `${i}/2`];
    await expectResumedRun({ args: shardArgs(1), seed: 19, maxDelayMs: 60, outputs: [`${out}.shard-1-of-2`] });
    expect((await moeq(...shardArgs(2))).code).toBe(0);
    expect((await moeq("merge", `${out}.shard-1-of-2`, `${out}.shard-2-of-2`, "-o", out)).code).toBe(0);
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
  }, 60_000);

  it("a work folder of another run (other arguments or inputs) is thrown away, and says so", async () => {
    const out = join(work.path, "other.gguf");
    mkdirSync(`${out}.partial`);
    writeFileSync(join(`${out}.partial`, "key.json"), JSON.stringify({ version: 1, fingerprint: "another run" }));
    const r = await moeq(...args(out));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/other\.gguf\.partial held a run with other arguments or inputs; starting over/);
    expect(JSON.parse(r.out).resumedUnits).toBe(0);
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
  });

  it("a second run while one holds the work folder is refused with one line, and touches nothing", async () => {
    const out = join(work.path, "busy.gguf");
    mkdirSync(`${out}.partial`);
    // a live process (not this one: a lock naming our own pid is a killed run's, as after a container restart)
    writeFileSync(join(`${out}.partial`, "lock"), `${process.ppid}\n`);
    expectBadInputLine(await moeq(...args(out)), new RegExp(`busy\\.gguf: another moeq run \\(pid ${process.ppid}\\) is writing this output`));
    expect(existsSync(out)).toBe(false);
    expect(readFileSync(join(`${out}.partial`, "lock"), "utf8")).toBe(`${process.ppid}\n`);
  });
});
