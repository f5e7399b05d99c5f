/** Placeholder printed wherever a secret would have appeared. */
export const REDACTED = "hf_***";

/**
 * Removes every occurrence of `secret` (and of an `Authorization: Bearer …` value) from a string,
 * so an error message, URL or log line can be printed safely.
 */
export function redactSecret(text: string, secret: string | undefined): string {
  let out = text.replace(/(Bearer\s+)[A-Za-z0-9_\-.~+/=*]+/gi, `$1${REDACTED}`);
  if (secret && secret.length > 0) out = out.split(secret).join(REDACTED);
  return out;
}

/** A URL without credentials or signed query strings (CDN redirects carry short-lived signatures). */
export function redactUrl(url: string, secret?: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    const hadQuery = u.search !== "";
    u.search = "";
    return redactSecret(u.toString() + (hadQuery ? "?…" : ""), secret);
  } catch {
    return redactSecret(url, secret);
  }
}
