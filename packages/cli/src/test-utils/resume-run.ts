// The resume tests of the commands that write through `<output>.partial/` (convert, quantize, fp8): kill -9 at
// seeded random points (killAndResume), with each output's journal as the progress token. Test-only.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { killAndResume, statToken, type KillResumeOptions, type KillResumeResult } from "./kill-resume.js";

/** The size and mtime of `<output>.partial/journal.jsonl`: a progress token for convert, quantize and fp8. */
export function journalToken(output: string): string {
  return statToken(join(`${output}.partial`, "journal.jsonl"));
}

/** Every "resuming …: K/N units done" line on `stderr`, as [K, N]. */
export function resumeLines(stderr: string): [number, number][] {
  return [...stderr.matchAll(/resuming from .*: (\d+)\/(\d+) units done/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** The last run resumed: some line says K/N units done with 0 < K < N (it skipped work and still had some to do). */
export function expectSkippedFinishedUnits(stderr: string): void {
  const lines = resumeLines(stderr);
  expect(
    lines.some(([k, n]) => k > 0 && k < n),
    stderr,
  ).toBe(true);
}

/**
 * The resume test of a command that writes through `<output>.partial/` (convert, quantize, fp8): killAndResume with
 * each journal as the progress token, checking that no output appears under its final name before it is complete;
 * then three kills, a run that finished, said it skipped finished units, and left no work folder.
 */
export async function expectResumedRun(o: Omit<KillResumeOptions, "progress"> & { readonly outputs: readonly string[] }): Promise<KillResumeResult> {
  const r = await killAndResume({
    ...o,
    progress: () => {
      for (const out of o.outputs) expect(existsSync(out), out).toBe(false);
      return o.outputs.map(journalToken).join("|");
    },
  });
  expect(r.killed).toBe(3);
  expect(r.status, r.stderr).toBe(0);
  expectSkippedFinishedUnits(r.stderr);
  for (const out of o.outputs) expect(existsSync(`${out}.partial`), out).toBe(false);
  return r;
}
