/**
 * Runs an independent referee script from fixtures/tools with Debian's /usr/bin/python3 (NumPy, torch 1.13),
 * which `.ci/run` installs. Returns stdout; a failing script fails the test with its stderr.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const toolsDir = fileURLToPath(new URL("../fixtures/tools/", import.meta.url));

export function runPythonReferee(script: string, args: readonly string[], opts: { timeoutMs?: number } = {}): string {
  return execFileSync("/usr/bin/python3", [toolsDir + script, ...args], {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 64 << 20,
    stdio: ["ignore", "pipe", "pipe"],
  });
}
