import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeWebStream } from "node:stream/web";
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

/** The Hub's X-Error-Code / X-Error-Message / Retry-After of the last failed response a library call saw. */
export interface HubErrorHeaders {
  code: string | null;
  message: string | null;
  retryAfter: string | null;
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
  const lastError: HubErrorHeaders = { code: null, message: null, retryAfter: null };
  const tracking: typeof fetch = async (input, init) => {
    const body = init?.body;
    const res =
      !opts.fetch && body instanceof Blob && body.size >= STREAM_UPLOAD_MIN && typeof input === "string"
        ? await uploadBlobStreaming(input, init!, body)
        : await (opts.fetch ?? fetch)(input, init);
    if (!res.ok) {
      lastError.code = res.headers.get("x-error-code");
      lastError.message = res.headers.get("x-error-message");
      lastError.retryAfter = res.headers.get("retry-after");
    }
    return res;
  };
  return { hubUrl: opts.hubUrl, ...(opts.accessToken ? { accessToken: opts.accessToken } : {}), fetch: tracking, lastError };
}

/** Blob request bodies from this size on are sent by uploadBlobStreaming instead of fetch. */
export const STREAM_UPLOAD_MIN = 8 << 20;

/**
 * Sends a large Blob body (an LFS PUT of a file-backed `fs.openAsBlob`) through node:http(s) with
 * backpressure. Node 20's fetch (undici) keeps the whole upload in memory — measured: a 512 MiB PUT
 * peaked at ~580 MB RSS through fetch whether the body was a Blob, its stream or a file stream, and at
 * ~73 MB through this path. Content-Length is always set: presigned storage URLs refuse chunked bodies.
 */
export async function uploadBlobStreaming(url: string, init: RequestInit, body: Blob): Promise<Response> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  headers["content-length"] = String(body.size);
  const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, {
    method: init.method ?? "PUT",
    headers,
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  // A server may answer (e.g. 4xx) before reading the whole body; its answer wins over the broken pipe.
  const pumped = pipeline(Readable.fromWeb(body.stream() as unknown as NodeWebStream<Uint8Array>), req).then(
    () => undefined,
    (err: unknown) => err,
  );
  const res = await responded;
  const pumpError = await pumped;
  const status = res.statusCode ?? 0;
  if (pumpError && (status < 300 || status >= 600)) throw pumpError;
  const resHeaders = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) resHeaders.append(k, one);
  }
  const noBody = status === 204 || status === 304 || init.method === "HEAD";
  if (noBody) res.resume();
  const response = new Response(noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>), {
    status,
    statusText: res.statusMessage ?? "",
    headers: resHeaders,
  });
  Object.defineProperty(response, "url", { value: url });
  return response;
}
