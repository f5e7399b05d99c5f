import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectBadInputLine, moeq } from "../test-utils/run-moeq.js";
import { copyWithBf16Value } from "../test-utils/patched-checkpoint.js";
import { expectSameFolder, folderToken, killAndResume } from "../test-utils/kill-resume.js";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));
const calib = fileURLToPath(new URL("../../../../fixtures/data/brown-validation.txt", import.meta.url));

const work = suiteTempDir("moeq-awq-cli-");

async function expectBadInput(args: string[], text: RegExp): Promise<void> {
  const out = join(work.path, "out");
  expectBadInputLine(await moeq("awq", ...args, "-o", out), text);
  expect(existsSync(out)).toBe(false);
}

describe("moeq awq", () => {
  it("--rtn --json on the fixture: 52 int4 matrices in the GEMM layout", async () => {
    const r = await moeq("awq", fixture, "-o", join(work.path, "rtn"), "--rtn", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ method: "rtn", bits: 4, groupSize: 128, zeroPoint: true, quantizedMatrices: 52 });
  });

  it("bad input exits 2 with one line and writes nothing", async () => {
    await expectBadInput(
      [fixture, "--data", calib, "--group-size", "96"],
      /: language_model\.model\.layers\.\d+\.[a-z_.]+: group size 96 does not divide the \d+ inputs of a \d+×\d+ weight/,
    );
    await expectBadInput([fixture, "--data", calib, "--bits", "3"], /packs 4-bit codes; --bits 3/);
    await expectBadInput([fixture], /needs calibration text/);
    const short = join(work.path, "short.txt");
    writeFileSync(short, "The jury said.");
    await expectBadInput([fixture, "--data", short], /short\.txt: calibration data has \d+ tokens; one window needs 255/);
  });

  it("a non-finite weight exits 2 naming the tensor", async () => {
    const bad = join(work.path, "inf-ckpt");
    await copyWithBf16Value(fixture, bad, "language_model.model.layers.0.feed_forward.up_proj.weight", 0, 5, 0xff80); // -Inf
    const out = join(work.path, "inf-out");
    expectBadInputLine(
      await moeq("awq", bad, "--rtn", "-o", out),
      /tensor language_model\.model\.layers\.0\.feed_forward\.up_proj\.weight has a non-finite weight \(-Infinity\) at row 0, column 5/,
    );
    expect([existsSync(out), existsSync(`${out}.partial`)]).toEqual([false, false]); // no output, no resume state
    expect(readdirSync(work.path).filter((n) => n.startsWith(".inf-out"))).toEqual([]);
  });
});

describe("moeq awq: kill -9 at seeded random points, rerun", () => {
  it("resumes by layer from <out>.partial and ends with the bytes of an uninterrupted run", async () => {
    const args = (out: string) => ["awq", fixture, "--data", calib, "--ctx", "64", "--windows", "1", "-o", out];
    const whole = join(work.path, "awq-whole");
    const full = await moeq(...args(whole));
    expect(full.code, full.err).toBe(0);

    const killed = join(work.path, "awq-killed");
    const r = await killAndResume({
      args: [...args(killed), "--json"],
      seed: 16,
      progress: () => {
        expect(existsSync(killed)).toBe(false); // never visible under its final name before it is complete
        return folderToken(`${killed}.partial`)
          .split("/")
          .filter((f) => f.endsWith(".json"))
          .join("/");
      },
      maxDelayMs: 300,
    });
    expect(r.killed).toBe(3);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(`${killed}.partial`)).toBe(false);
    expectSameFolder(killed, whole);
  }, 600_000);
});
