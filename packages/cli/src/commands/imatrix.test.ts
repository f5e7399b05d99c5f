// `moeq imatrix`: bad input exits 2 with one line naming the file; kill -9 at 3 seeded random points + reruns give
// the same file as an uninterrupted run (the kill runs the built CLI, packages/cli/bin/moeq.js, which npm ci's
// `prepare` builds); the MoE report goes to stderr and --json.
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ImatrixStats, LlamaFType, convertHfToGguf } from "@moeq/convert";
import { openGguf } from "@moeq/formats";
import { moeq } from "../test-utils/run-moeq.js";
import { killAndResume, statToken } from "../test-utils/kill-resume.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const FIXTURE_DIR = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const CALIBRATION = fileURLToPath(new URL("../../../../fixtures/data/brown-calibration.txt", import.meta.url));

const work = suiteTempDir("moeq-imatrix-cli-");
let model: string;
let text: string;

beforeAll(async () => {
  model = join(work.path, "tiny-f16.gguf");
  await convertHfToGguf(FIXTURE_DIR, model, { outtype: LlamaFType.MOSTLY_F16 });
  text = join(work.path, "cal.txt");
  writeFileSync(text, readFileSync(CALIBRATION, "utf8").slice(0, 12_000));
});

function expectOneLine(err: string, ...parts: (string | RegExp)[]): void {
  const lines = err.trim().split("\n");
  expect(lines, err).toHaveLength(1);
  for (const p of parts) expect(lines[0]).toMatch(p);
}

describe("moeq imatrix: bad input → exit 2, one line naming the file and the problem", () => {
  it("empty text", async () => {
    const empty = join(work.path, "empty.txt");
    writeFileSync(empty, "\n");
    const r = await moeq("imatrix", model, "--data", empty, "-o", join(work.path, "x.gguf"));
    expect(r.code).toBe(2);
    expectOneLine(r.err, empty, /empty/);
  });
  it("text shorter than two chunks", async () => {
    const short = join(work.path, "short.txt");
    writeFileSync(short, "The jury said the election was conducted well.");
    const r = await moeq("imatrix", model, "--data", short, "--ctx", "64", "-o", join(work.path, "x.gguf"));
    expect(r.code).toBe(2);
    expectOneLine(r.err, short, /only \d+ tokens; a context of 64 needs at least 128/);
  });
  it("a model GGUF given as --in-file", async () => {
    const r = await moeq("imatrix", model, "--data", text, "--ctx", "64", "--in-file", model, "-o", join(work.path, "x.gguf"));
    expect(r.code).toBe(2);
    expectOneLine(r.err, model, /not an imatrix/);
  });
  it("an imatrix for another model", async () => {
    const other = join(work.path, "other.gguf");
    const s = new ImatrixStats(64);
    s.addDense("blk.0.attn_q.weight", new Float32Array(64 * 16).fill(0.5), 16, 64);
    await s.writeGguf(other, "other.txt");
    const r = await moeq("imatrix", model, "--data", text, "--ctx", "64", "--in-file", other, "-o", join(work.path, "x.gguf"));
    expect(r.code).toBe(2);
    expectOneLine(r.err, other, /imatrix for another model: blk\.0\.attn_q\.weight has 64 values, this model needs 256/);
    expect(existsSync(join(work.path, "x.gguf"))).toBe(false);
  });
});

describe("moeq imatrix: summary and MoE report", () => {
  it("--json has the per-layer expert tokens and the under-trained experts; stderr has the table", async () => {
    const out = join(work.path, "small.gguf");
    const r = await moeq("imatrix", model, "--data", text, "--ctx", "64", "--chunks", "2", "-o", out, "--json");
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.chunks).toBe(2);
    expect(s.experts.layers.map((l: { layer: number }) => l.layer)).toEqual([1, 3]);
    for (const l of s.experts.layers) expect(l.tokens.reduce((a: number, b: number) => a + b, 0)).toBe(128); // top-1 routing
    expect(s.experts.underTrained.length).toBeGreaterThan(0); // 128 rows < width 256
    expect(r.err).toMatch(/tokens per expert:/);
    expect(r.err).toMatch(/blk\.1 expert 0: \d+ rows < width \(down 256, gate 256, up 256\): uses sum\/count/);
    const g = await openGguf(out);
    try {
      expect(g.get("general.type")).toBe("imatrix");
      expect(g.get("imatrix.chunk_count")).toBe(2);
      expect(g.get("imatrix.chunk_size")).toBe(64);
      expect(g.get("moeq.imatrix.resume.chunks")).toBeUndefined();
    } finally {
      await g.close();
    }
  });
});

describe("moeq imatrix: checkpoints in <out>.partial, kill -9 at seeded random points, rerun", () => {
  it("the reruns resume and end with the bytes of an uninterrupted run; nothing under the final name before", async () => {
    const args = (out: string) => ["imatrix", model, "--data", text, "--ctx", "64", "--chunks", "12", "-o", out];
    const whole = join(work.path, "whole.gguf");
    const full = await moeq(...args(whole));
    expect(full.code, full.err).toBe(0);
    expect(existsSync(`${whole}.partial`)).toBe(false);

    const killed = join(work.path, "killed.gguf");
    const r = await killAndResume({
      args: [...args(killed), "--json"],
      seed: 16,
      progress: () => {
        expect(existsSync(killed)).toBe(false); // never visible under its final name before it is complete
        return statToken(`${killed}.partial`);
      },
      maxDelayMs: 40,
    });
    expect(r.killed).toBe(3);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).resumedChunks).toBeGreaterThanOrEqual(3);
    expect(existsSync(`${killed}.partial`)).toBe(false);
    expect(Buffer.compare(readFileSync(killed), readFileSync(whole))).toBe(0);
  });
});
