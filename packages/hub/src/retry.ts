import { HubRequestError, isRetryableHubError } from "./hub-errors.js";

/** How often and how long to retry a Hub call; shared by the revision lookup, the listing and every file download. */
export interface HubRetryPolicy {
  /** Retries after the first attempt (network failure, 429, 500/502/503/504); default 3. */
  readonly retries?: number;
  /** First backoff delay, doubled per retry; default 1000 ms. */
  readonly retryDelayMs?: number;
  /** Upper bound on a Retry-After wait the Hub asks for; default 60 000 ms. */
  readonly maxRetryAfterMs?: number;
}

/**
 * The wait before retry number `attempt + 1`: exponential backoff, or the Hub's Retry-After when it asks
 * for longer, capped at `maxRetryAfterMs` so a hostile or confused server cannot stall a pull for hours.
 */
export function hubRetryDelayMs(err: unknown, attempt: number, policy: HubRetryPolicy): number {
  const backoff = (policy.retryDelayMs ?? 1000) * 2 ** attempt;
  const asked = err instanceof HubRequestError ? err.retryAfterMs : undefined;
  if (asked === undefined) return backoff;
  return Math.max(backoff, Math.min(asked, policy.maxRetryAfterMs ?? 60_000));
}

/**
 * Runs `fn` and retries it on failures a retry can fix (isRetryableHubError); 401/403/404 and other
 * answers fail at once. When the attempts run out, the last error is thrown with the attempt count appended.
 */
export async function withHubRetries<T>(policy: HubRetryPolicy, fn: () => Promise<T>): Promise<T> {
  const retries = Math.max(0, policy.retries ?? 3);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryableHubError(err)) throw err;
      if (attempt >= retries) {
        if (attempt > 0 && err instanceof Error) err.message += ` (gave up after ${attempt + 1} attempts)`;
        throw err;
      }
      await new Promise((r) => setTimeout(r, hubRetryDelayMs(err, attempt, policy)));
    }
  }
}
