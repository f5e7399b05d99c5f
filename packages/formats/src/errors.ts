/**
 * Typed errors shared by every moeq package. Each carries a stable `code` and, where there is one,
 * the file it is about, so the CLI can print one clear line and exit 2 on bad input.
 */
export class MoeqError extends Error {
  /** Stable machine-readable code, e.g. "GGUF_BAD_MAGIC". */
  readonly code: string;
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  /** Extra structured facts (the offending value, the limit, …). */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, opts: { file?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(opts.file ? `${opts.file}: ${message}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.file = opts.file;
    this.details = opts.details ?? {};
  }
}

/** The input is malformed or unsupported: the user must fix the input (CLI exit code 2). */
export class InputError extends MoeqError {}

/** A check the user asked for did not pass (CLI exit code 1), e.g. a failed quality gate. */
export class CheckFailedError extends MoeqError {}
