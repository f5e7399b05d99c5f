import { InputError } from "@moeq/formats";

/** What every Hub call needs: where the Hub is, the token, and (for tests, proxies) a fetch. */
export interface HubClientOptions {
  /** Endpoint, e.g. https://huggingface.co (HF_ENDPOINT). */
  readonly hubUrl: string;
  /** Access token (HF_TOKEN); never printed. */
  readonly accessToken?: string | undefined;
  readonly fetch?: typeof fetch;
}

/**
 * @huggingface/hub throws a TypeError for tokens that do not start with `hf_`; check it up front so
 * the user gets a typed one-line error (which never echoes the token).
 */
export function checkAccessToken(token: string | undefined): void {
  if (token !== undefined && !token.startsWith("hf_")) {
    throw new InputError("HUB_BAD_TOKEN", "the access token (HF_TOKEN / --token) must start with 'hf_'");
  }
}

/** The Hub's X-Error-Code / X-Error-Message of the last failed response a library call saw. */
export interface HubErrorHeaders {
  code: string | null;
  message: string | null;
}

/**
 * Options object for @huggingface/hub calls, leaving out undefined fields. Its fetch records the
 * X-Error-Code header of failed responses (the library's HubApiError drops headers), so a 403 can be
 * told apart as GatedRepo and a 404 as RevisionNotFound.
 */
export function libraryCredentials(opts: HubClientOptions): {
  hubUrl: string;
  accessToken?: string;
  fetch: typeof fetch;
  lastError: HubErrorHeaders;
} {
  checkAccessToken(opts.accessToken);
  const base = opts.fetch ?? fetch;
  const lastError: HubErrorHeaders = { code: null, message: null };
  const tracking: typeof fetch = async (input, init) => {
    const res = await base(input, init);
    if (!res.ok) {
      lastError.code = res.headers.get("x-error-code");
      lastError.message = res.headers.get("x-error-message");
    }
    return res;
  };
  return { hubUrl: opts.hubUrl, ...(opts.accessToken ? { accessToken: opts.accessToken } : {}), fetch: tracking, lastError };
}
