// `moeq gptq` on bad input: exit 2, one line on stderr, and no output folder (neither <out> nor <out>.partial);
// kill -9 at 3 seeded random points + reruns end with the bytes of an uninterrupted run.
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openSafetensors } from "@moeq/formats";
import { runMoeq } from "../test-utils/run-moeq.js";
import { expectSameFolder, killAndResume, statToken } from "../test-utils/kill-resume.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const calib = fileURLToPath(new URL("../../../../fixtures/data/brown-validation.txt", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "moeq-gptq-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function expectBadInput(args: string[], message: RegExp): Promise<void> {
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  const r = await runMoeq(["gptq", ...args, "-o", out]);
  expect(r.code, r.err).toBe(2);
  expect(r.err.trim().split("\n")).toHaveLength(1);
  expect(r.err).toMatch(message);
  expect(existsSync(out)).toBe(false);
  expect(existsSync(`${out}.partial`)).toBe(false);
}

describe("moeq gptq: bad input", () => {
  it("refuses a config that is not Llama 4", async () => {
    const dir = join(work, "llama3");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "llama", hidden_size: 256 }));
    await expectBadInput([dir, "--data", calib], /config\.json: model_type is "llama", expected "llama4"/);
  });

  it("refuses bits and group sizes that do not fit", async () => {
    await expectBadInput([fixture, "--data", calib, "--bits", "5", "--nsamples", "1", "--seqlen", "8"], /bits 5 is not one of 2, 3, 4, 8/);
    await expectBadInput(
      [fixture, "--data", calib, "--group-size", "96", "--nsamples", "1", "--seqlen", "8"],
      /group size 96 does not divide the input width 256/,
    );
  });

  it("refuses calibration text shorter than nsamples × seqlen", async () => {
    await expectBadInput(
      [fixture, "--data", calib, "--nsamples", "1000", "--seqlen", "512"],
      /brown-validation\.txt: calibration text has \d+ tokens, fewer than nsamples × seqlen = 1000 × 512 = 512000/,
    );
  });

  it("refuses NaN weights, removing the layers already written", async () => {
    const dir = join(work, "nan");
    cpSync(fixture, dir, { recursive: true });
    const name = "language_model.model.layers.2.self_attn.o_proj.weight";
    const ck = await openSafetensors(dir);
    const t = ck.tensors.get(name)!;
    await ck.close();
    const bytes = readFileSync(t.file);
    bytes.writeUInt16LE(0x7fc0, t.offset + 2 * 300); // BF16 NaN at element 300
    writeFileSync(t.file, bytes);
    await expectBadInput(
      [dir, "--data", calib, "--nsamples", "2", "--seqlen", "16"],
      /language_model\.model\.layers\.2\.self_attn\.o_proj has a non-finite value \(NaN\) at element 300/,
    );
  }, 120_000);
});

describe("moeq gptq: kill -9 at seeded random points, rerun", () => {
  it("resumes by layer from <out>.partial and ends with the bytes of an uninterrupted run", async () => {
    const args = (out: string) => ["gptq", fixture, "--data", calib, "--nsamples", "2", "--seqlen", "32", "-o", out];
    const whole = join(work, "gptq-whole");
    const full = await runMoeq(args(whole));
    expect(full.code, full.err).toBe(0);

    const killed = join(work, "gptq-killed");
    const r = await killAndResume({
      args: [...args(killed), "--json"],
      seed: 16,
      progress: () => {
        expect(existsSync(killed)).toBe(false); // never visible under its final name before it is complete
        return statToken(join(`${killed}.partial`, "gptq-progress.json"));
      },
      maxDelayMs: 150,
    });
    expect(r.killed).toBe(3);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).resumedLayers).toBeGreaterThanOrEqual(3);
    expect(existsSync(`${killed}.partial`)).toBe(false);
    expectSameFolder(killed, whole);
  }, 120_000);
});
