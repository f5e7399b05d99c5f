// Runs the CLI in-process for tests, capturing what it writes. Test-only (excluded from the build).
import { expect, vi } from "vitest";
import { main } from "../index.js";

export interface MoeqRun {
  /** Exit code `main` returned: 0 ok, 1 check failed, 2 bad input, 70 internal error. */
  code: number;
  out: string;
  err: string;
}

/**
 * `moeq …` in-process with stdout and stderr captured. With `console: true` the console methods are captured into
 * `err` as well (for commands whose libraries log through the console).
 */
export async function runMoeq(args: string[], opts: { console?: boolean } = {}): Promise<MoeqRun> {
  let out = "";
  let err = "";
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => ((out += String(c)), true)),
    vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((err += String(c)), true)),
    ...(opts.console
      ? (["log", "info", "warn", "error", "debug"] as const).map((m) =>
          vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void (err += a.join(" ") + "\n")),
        )
      : []),
  ];
  try {
    return { code: await main(args), out, err };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

/** `moeq …` in-process, stdout and stderr captured. */
export const moeq = (...args: string[]): Promise<MoeqRun> => runMoeq(args);

/** The bad-input contract: exit code 2 and exactly one line on stderr, matching `text`. */
export function expectBadInputLine(r: MoeqRun, text: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.err.trim().split("\n")).toHaveLength(1);
  expect(r.err).toMatch(text);
}
