import yargs from "yargs";
import { MoeqError, InputError, CheckFailedError, oneLine } from "@moeq/formats";
import { loadCommands } from "./commands/index.js";

/** Exit codes every command shares: 0 ok, 1 a gate or check failed, 2 bad input, 70 an internal error (a bug in moeq). */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
/** sysexits.h EX_SOFTWARE: never 1, so a crash is not mistaken for "the gate failed" in CI. */
export const EXIT_INTERNAL = 70;

const EXIT_CODES_HELP = `Exit codes: ${EXIT_OK} ok, ${EXIT_CHECK_FAILED} a gate or check failed, ${EXIT_BAD_INPUT} bad input (one line naming the file), ${EXIT_INTERNAL} internal error (a bug: please report it with the stack trace).`;

/** Maps any thrown value to one line on stderr and an exit code; never a stack trace for user errors. */
export function reportError(err: unknown): number {
  if (err instanceof CheckFailedError) {
    process.stderr.write(`moeq: ${err.message}\n`);
    return EXIT_CHECK_FAILED;
  }
  if (err instanceof MoeqError || err instanceof InputError) {
    process.stderr.write(`moeq: ${err.message}\n`);
    return EXIT_BAD_INPUT;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === "string" && ["ENOENT", "EACCES", "EISDIR", "ENOTDIR", "ENOSPC", "EDQUOT", "EFBIG"].includes(e.code)) {
    process.stderr.write(`moeq: ${oneLine(e.message)}\n`); // the path in it may hold control characters
    return EXIT_BAD_INPUT;
  }
  process.stderr.write(`moeq: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT_INTERNAL;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const cli = yargs(argv)
    .scriptName("moeq")
    .usage("$0 <command> [options]\n\nQuantize Mixture-of-Experts checkpoints you can trust.")
    .strict()
    .demandCommand(1, "Name a command; see --help.")
    .recommendCommands()
    .epilogue(EXIT_CODES_HELP)
    // main returns the exit code; yargs must not end the process itself (e.g. after --help).
    .exitProcess(false)
    .help()
    .version(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new InputError("USAGE", msg.replace(/\s*\n\s*/g, " ")); // yargs' "Invalid values:\n  Argument: …" on one line
    });
  for (const c of await loadCommands(argv)) cli.command(c);
  try {
    // Handlers signal failure by throwing: CheckFailedError → 1, InputError → 2.
    await cli.parseAsync();
  } catch (err) {
    exitCode = reportError(err);
  }
  return exitCode;
}
