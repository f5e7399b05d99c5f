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
    const text = oneLine(message, MAX_MESSAGE_CHARS);
    super(opts.file ? `${oneLine(opts.file, MAX_MESSAGE_CHARS)}: ${text}` : text, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.file = opts.file;
    this.details = opts.details ?? {};
  }
}

/** Longest message (and file name) an error prints; longer ones keep their head and tail around an ellipsis. */
export const MAX_MESSAGE_CHARS = 400;

/**
 * `text` made safe for one terminal line: control characters (C0, DEL, C1, U+2028/U+2029) escaped as `\xNN` /
 * `\uNNNN`, and anything beyond `max` characters cut from the middle ("…[N chars cut]…"), so a hostile file's
 * 1 MB key or embedded newlines and escape sequences can neither flood nor rewrite the user's terminal.
 */
export function oneLine(text: string, max: number = MAX_MESSAGE_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  if (escaped.length <= max) return escaped;
  const tail = Math.floor(max / 4);
  const cut = escaped.length - (max - 24);
  return `${escaped.slice(0, max - tail - 24)}…[${cut} chars cut]…${escaped.slice(escaped.length - tail)}`;
}

/** The input is malformed or unsupported: the user must fix the input (CLI exit code 2). */
export class InputError extends MoeqError {}

/**
 * The machine cannot do what was asked (a full disk, a quota, a file-size limit): exit 2 like bad input, since the
 * user must act (free space, another -o), and it is not a bug in moeq.
 */
export class EnvironmentError extends MoeqError {}

/** A check the user asked for did not pass (CLI exit code 1), e.g. a failed quality gate. */
export class CheckFailedError extends MoeqError {}
