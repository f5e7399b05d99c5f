// kill -9 a long CLI command at seeded random points, rerunning it with the same arguments after each kill, then
// once more to completion: the resume tests of imatrix, gptq and awq. Test-only (excluded from the build).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { fileURLToPath } from "node:url";
import { seededRandom } from "@moeq/formats";

const BIN = fileURLToPath(new URL("../../bin/moeq.js", import.meta.url));

export interface KillResumeOptions {
  /** `moeq` arguments (the same for every run). */
  readonly args: readonly string[];
  readonly seed: number;
  /** Kills (each into a fresh rerun); default 3. */
  readonly kills?: number;
  /**
   * A token of the run's on-disk progress (e.g. the checkpoint's mtime and size); a run is killed only after it
   * changed, so every run makes progress and the kill lands after at least one resume point of its own.
   */
  readonly progress: () => string;
  /** The kill comes a seeded random 0…maxDelayMs after that change (mid-checkpoint writes included). */
  readonly maxDelayMs: number;
}

export interface KillResumeResult {
  /** Runs that died by SIGKILL (the rest finished before the kill came). */
  readonly killed: number;
  /** The last run's exit status, stdout and stderr. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function killAndResume(o: KillResumeOptions): Promise<KillResumeResult> {
  const rand = seededRandom(o.seed); // the project's one PRNG, so a failing kill point can be replayed
  let killed = 0;
  for (let k = 0; k < (o.kills ?? 3); k++) {
    const before = o.progress();
    const child = spawn(process.execPath, [BIN, ...o.args], { stdio: "ignore" });
    let exited = false;
    const done = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, sig) => ((exited = true), resolve(sig))));
    while (!exited && o.progress() === before) await sleep(5);
    if (!exited) await sleep(rand() * o.maxDelayMs);
    if (!exited) child.kill("SIGKILL");
    if ((await done) === "SIGKILL") killed++;
  }
  const last = spawnSync(process.execPath, [BIN, ...o.args], { encoding: "utf8" });
  return { killed, status: last.status, stdout: last.stdout, stderr: last.stderr };
}

/** The mtime and size of `path` ("" when absent): a progress token for a checkpoint file. */
export function statToken(path: string): string {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.mtimeMs}:${s.size}` : "";
}

/** The sorted entry names of folder `dir` ("" when absent): a progress token for a checkpoint folder. */
export function folderToken(dir: string): string {
  return existsSync(dir) ? readdirSync(dir).sort().join("/") : "";
}

/** Folder `b` holds the same file names as `a`, each with the same bytes. */
export function expectSameFolder(b: string, a: string): void {
  const files = readdirSync(a).sort();
  expect(readdirSync(b).sort()).toEqual(files);
  for (const f of files) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
}
