import { CheckFailedError, InputError } from "@moeq/formats";
import { redactSecret, redactUrl } from "./redact.js";

/** The Hub refused or could not find something (401, 403 gated, 404, 409…): the user must act (exit 2). */
export class HubRequestError extends InputError {
  readonly statusCode: number;
  readonly url: string;
  /** The wait the Hub asked for with Retry-After (429/503), in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, opts: { statusCode: number; url: string; file?: string; cause?: unknown; retryAfterMs?: number | undefined }) {
    super(code, message, { file: opts.file, details: { statusCode: opts.statusCode, url: opts.url }, cause: opts.cause });
    this.statusCode = opts.statusCode;
    this.url = opts.url;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * The connection failed or broke mid-transfer, or the Hub answered 5xx/429: worth retrying, and a
 * retry resumes from the bytes already on disk.
 */
export class HubTransferError extends HubRequestError {}

/** Statuses a later attempt can fix (as huggingface_hub's http_backoff: 500/502/503/504, plus 429). */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** True for failures a retry can fix (network, 429, 500/502/503/504); false for other 4xx/5xx answers and integrity failures. */
export function isRetryableHubError(err: unknown): boolean {
  if (err instanceof HubTransferError) return true;
  if (err instanceof HubRequestError) return RETRYABLE_STATUS.has(err.statusCode);
  return false;
}

/**
 * A Retry-After header in ms: delta-seconds (`120`) or an HTTP-date; undefined when absent or unreadable.
 * A date in the past gives 0.
 */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  const v = header?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A downloaded file does not match the Hub's metadata (size, sha256, git sha1): never linked (exit 1). */
export class HubIntegrityError extends CheckFailedError {}

/** A filename from the Hub that could land outside the snapshot or is not portable (exit 2). */
export class UnsafeRepoPathError extends InputError {}

/** Nothing usable in the cache while HF_HUB_OFFLINE is set (exit 2). */
export class OfflineCacheMissError extends InputError {}

export interface HubErrorContext {
  /** What we tried, e.g. "resolve revision main of org/name". */
  readonly action: string;
  readonly token: string | undefined;
  /** The repo file concerned, when there is one. */
  readonly file?: string;
}

/**
 * One clear line for a failed Hub response. `errorCode` is the Hub's X-Error-Code header
 * (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound), `serverMessage` its X-Error-Message or JSON error.
 */
export interface HubResponseFacts {
  readonly status: number;
  readonly url: string;
  /** X-Error-Code. */
  readonly errorCode?: string | null;
  /** X-Error-Message, or the JSON body's error. */
  readonly serverMessage?: string | null;
  /** Retry-After (seconds or an HTTP date). */
  readonly retryAfter?: string | null;
  readonly cause?: unknown;
}

export function hubErrorFor(response: HubResponseFacts, ctx: HubErrorContext): HubRequestError {
  const { status, url, errorCode, serverMessage, cause, retryAfter } = response;
  const safeUrl = redactUrl(url, ctx.token);
  const server = serverMessage ? ` (${redactSecret(serverMessage, ctx.token).slice(0, 300)})` : "";
  let code: string;
  let what: string;
  if (status === 401) {
    code = "HUB_UNAUTHORIZED";
    what = ctx.token
      ? "the Hub rejected the access token (401); check HF_TOKEN / --token"
      : "authentication required (401): the repo is private or does not exist; set HF_TOKEN or pass --token";
  } else if (status === 403 && errorCode === "GatedRepo") {
    code = "HUB_GATED";
    what = "the repo is gated (403): accept its terms on the Hub with the account that owns the token";
  } else if (status === 403) {
    code = "HUB_FORBIDDEN";
    what = "access forbidden (403): the token lacks permission for this repo";
  } else if (status === 404) {
    code = errorCode === "RevisionNotFound" ? "HUB_REVISION_NOT_FOUND" : errorCode === "EntryNotFound" ? "HUB_ENTRY_NOT_FOUND" : "HUB_NOT_FOUND";
    what =
      errorCode === "RevisionNotFound"
        ? "revision not found (404)"
        : errorCode === "EntryNotFound"
          ? "file not found in the repo (404)"
          : "repo not found (404): check the name, or pass a token if it is private";
  } else {
    code = "HUB_HTTP_ERROR";
    what = `the Hub answered HTTP ${status}`;
  }
  return new HubRequestError(code, `failed to ${ctx.action}: ${what}${server} [${safeUrl}]`, {
    statusCode: status,
    url: safeUrl,
    file: ctx.file,
    cause,
    retryAfterMs: parseRetryAfter(retryAfter),
  });
}

/** Reads the error headers/body of a failed fetch Response and builds the one-line error. */
export async function hubErrorFromResponse(res: Response, ctx: HubErrorContext): Promise<HubRequestError> {
  let serverMessage = res.headers.get("x-error-message");
  if (!serverMessage) {
    try {
      const text = await res.text();
      try {
        const json = JSON.parse(text) as { error?: unknown; message?: unknown };
        const m = json.error ?? json.message;
        serverMessage = typeof m === "string" ? m : null;
      } catch {
        serverMessage = text.trim() ? text.trim() : null;
      }
    } catch {
      serverMessage = null;
    }
  }
  return hubErrorFor(
    { status: res.status, url: res.url, errorCode: res.headers.get("x-error-code"), serverMessage, retryAfter: res.headers.get("retry-after") },
    ctx,
  );
}

interface HubApiErrorLike {
  statusCode: number;
  url: string;
  message: string;
  data?: unknown;
}

function isHubApiErrorLike(err: unknown): err is HubApiErrorLike {
  return typeof err === "object" && err !== null && typeof (err as HubApiErrorLike).statusCode === "number" && typeof (err as HubApiErrorLike).url === "string";
}

/**
 * Turns whatever @huggingface/hub (or fetch) threw into a typed, redacted error. The library's HubApiError
 * carries statusCode/url/data but not X-Error-Code, so gating is recognised from the message text too.
 */
export function translateHubError(
  err: unknown,
  ctx: HubErrorContext,
  headers?: { code: string | null; message: string | null; retryAfter?: string | null },
): Error {
  if (err instanceof HubRequestError || err instanceof HubIntegrityError || err instanceof UnsafeRepoPathError) return err;
  if (isHubApiErrorLike(err)) {
    const data = (err.data ?? {}) as { error?: unknown; message?: unknown };
    const raw = typeof data.error === "string" ? data.error : typeof data.message === "string" ? data.message : err.message;
    let errorCode = headers?.code ?? null;
    if (!errorCode && err.statusCode === 403 && /gated|restricted/i.test(raw)) errorCode = "GatedRepo";
    if (!errorCode && err.statusCode === 404 && /revision|rev id/i.test(raw)) errorCode = "RevisionNotFound";
    return hubErrorFor({ status: err.statusCode, url: err.url, errorCode, serverMessage: headers?.message ?? raw, retryAfter: headers?.retryAfter }, ctx);
  }
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
  // A connection refused/reset or a body cut short: retryable (HubTransferError), like a broken download.
  const ErrorClass = isNetworkFailure(err) ? HubTransferError : HubRequestError;
  return new ErrorClass("HUB_NETWORK", `failed to ${ctx.action}: ${redactSecret(msg + cause, ctx.token)}`, {
    statusCode: 0,
    url: "",
    file: ctx.file,
  });
}

/**
 * True for what fetch (undici) throws when a connection to the Hub breaks: `TypeError: fetch failed` /
 * `terminated` (the socket closed mid-body), or an error whose own or cause's `code` is a socket errno
 * (ECONNRESET…) or an undici socket/timeout code. Not for a refused connection or an unknown host: nothing
 * listens at that endpoint (wrong HF_ENDPOINT, offline), so the one-line error comes at once. File errors
 * (ENOENT, EACCES) are not network failures either.
 */
export function isNetworkFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const codeOf = (e: unknown) => (typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined);
  const codes = [codeOf(err), codeOf(err.cause)].filter((c): c is string => typeof c === "string");
  if (codes.some((c) => /^(ECONNREFUSED|ENOTFOUND|EAI_FAIL)$/.test(c))) return false;
  if (
    codes.some((c) =>
      /^(ECONNRESET|ECONNABORTED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EAI_AGAIN|UND_ERR_(SOCKET|CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT|CLOSED))$/.test(
        c,
      ),
    )
  )
    return true;
  return err instanceof TypeError && (err.message === "fetch failed" || err.message === "terminated");
}
