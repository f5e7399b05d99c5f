import { describe, expect, it } from "vitest";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { ResumeWorkDir, workDirPath, type ResumeNote, type WorkDirPlan } from "./work-dir.js";

const work = suiteTempDir("moeq-work-dir-");

function plan(fingerprint: string, notes: ResumeNote[]): WorkDirPlan {
  return {
    fingerprint,
    files: [{ name: "out", size: 12 }],
    units: new Map([
      ["a", [{ id: "a", file: "out", pos: 0, length: 4 }]],
      ["b", [{ id: "b", file: "out", pos: 8, length: 4 }]],
    ]),
    onResume: (n) => notes.push(n),
  };
}

describe("ResumeWorkDir", () => {
  it("keeps journaled units whose bytes pass their CRC32, ignores a torn line, and renames the image into place", async () => {
    const out = join(work.path, "x.bin");
    const notes: ResumeNote[] = [];
    const first = await ResumeWorkDir.open(out, plan("k1", notes));
    await first.write("a", Uint8Array.of(1, 2, 3, 4));
    await first.complete("a", { rows: 7 });
    appendFileSync(join(workDirPath(out), "journal.jsonl"), '{"unit":"b","ran'); // killed mid-append
    // (the "killed" run never closes; its lock names this pid, which a rerun takes over)
    const second = await ResumeWorkDir.open(out, plan("k1", notes));
    expect([second.isDone("a"), second.isDone("b"), second.metaOf("a")]).toEqual([true, false, { rows: 7 }]);
    expect(notes.at(-1)).toMatchObject({ done: 1, total: 2, restarted: false });
    await second.write("b", Uint8Array.of(9, 9, 9, 9));
    await second.complete("b");
    const third = await ResumeWorkDir.open(out, plan("k1", notes)); // the torn line did not spoil b's
    expect(third.isDone("b")).toBe(true);
    await third.seal();
    expect(existsSync(out)).toBe(false);
    await third.commit(out, "out");
    expect([...readFileSync(out)]).toEqual([1, 2, 3, 4, 0, 0, 0, 0, 9, 9, 9, 9]);
    expect(existsSync(workDirPath(out))).toBe(false);
  });

  it("redoes a unit whose bytes no longer match, and starts over for another fingerprint", async () => {
    const out = join(work.path, "y.bin");
    const notes: ResumeNote[] = [];
    const first = await ResumeWorkDir.open(out, plan("k1", notes));
    await first.write("a", Uint8Array.of(1, 2, 3, 4));
    await first.complete("a");
    await first.write("b", Uint8Array.of(5, 6, 7, 8));
    await first.complete("b");
    const image = join(workDirPath(out), "image", "out");
    const bytes = readFileSync(image);
    bytes[9] ^= 0xff;
    writeFileSync(image, bytes);
    const second = await ResumeWorkDir.open(out, plan("k1", notes));
    expect([second.isDone("a"), second.isDone("b")]).toEqual([true, false]);
    const third = await ResumeWorkDir.open(out, plan("k2", notes));
    expect([third.isDone("a"), third.isDone("b")]).toEqual([false, false]);
    expect(notes.at(-1)).toMatchObject({ done: 0, restarted: true });
    await third.discard();
    expect(existsSync(workDirPath(out))).toBe(false);
  });
});
