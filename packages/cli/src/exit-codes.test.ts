import { afterEach, describe, expect, it, vi } from "vitest";
import { CheckFailedError, InputError } from "@moeq/formats";
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERNAL, reportError } from "./index.js";
import { runMoeq } from "./test-utils/run-moeq.js";

describe("exit codes", () => {
  afterEach(() => vi.restoreAllMocks());

  it("keeps a crash apart from a failed gate and from bad input", () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
    expect(reportError(new CheckFailedError("GATE_FAILED", "kld_mean 0.2 <= 0.05 is false"))).toBe(EXIT_CHECK_FAILED);
    expect(reportError(new InputError("BAD", "not a GGUF file", { file: "x.gguf" }))).toBe(EXIT_BAD_INPUT);
    expect(reportError(new TypeError("Cannot read properties of undefined"))).toBe(EXIT_INTERNAL);
    expect([EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL]).toEqual([1, 2, 70]);
    expect(err.at(-1)).toMatch(/^moeq: internal error: TypeError: Cannot read properties of undefined\n\s+at /);
    // a system error about a file whose name holds a newline and an escape sequence still prints one safe line
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'a\n\x1b[2Jb'"), { code: "ENOENT" });
    expect(reportError(enoent)).toBe(EXIT_BAD_INPUT);
    expect(err.at(-1)).toBe("moeq: ENOENT: no such file or directory, open 'a\\x0a\\x1b[2Jb'\n");
  });

  it("documents every code in --help, and --help itself exits 0", async () => {
    // yargs prints help through console.log, which runMoeq captures into `err`.
    const r = await runMoeq(["--help"], { console: true });
    expect(r.err).not.toContain("moeq: internal error");
    expect(r.code).toBe(0);
    // yargs wraps the epilogue at the terminal width, even inside words: compare without white space.
    const squeeze = (s: string) => s.replace(/\s+/g, "");
    expect(squeeze(r.out + r.err)).toContain(squeeze("Exit codes: 0 ok, 1 a gate or check failed, 2 bad input (one line naming the file), 70 internal error"));
  });
});
