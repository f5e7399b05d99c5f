import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeHub, type MetadataFailure } from "@moeq/test-support/fake-hub";
import { pullSnapshot } from "./pull.js";
import { parseRepoId } from "./repo-id.js";
import { HubRequestError, HubTransferError, isNetworkFailure, parseRetryAfter } from "./hub-errors.js";
import { hubRetryDelayMs, withHubRetries } from "./retry.js";

const TOKEN = "hf_retryTOKENforTests1234567890";
const repo = parseRepoId("moeq-test/retry");
const hub = new FakeHub({ requiredToken: TOKEN });
let cacheRoot: string;
let commit: string;
let run = 0;

beforeAll(async () => {
  cacheRoot = await mkdtemp(join(tmpdir(), "moeq-pull-retry-"));
  commit = hub.addRepo(repo.id, { "config.json": { content: Buffer.from('{"model_type":"llama4"}'), lfs: false } });
  await hub.start();
});

afterAll(async () => {
  await hub.stop();
  await rm(cacheRoot, { recursive: true, force: true });
});

/** Pulls into a fresh cache with `failure` injected; returns the result or error and the metadata requests per route. */
async function pullWith(
  failure: MetadataFailure | undefined,
  extra: { revision?: string; accessToken?: string; maxRetryAfterMs?: number; retries?: number } = {},
) {
  hub.options.metadataFailure = failure;
  const before = hub.requests.length;
  const outcome = await pullSnapshot({
    repo,
    hubUrl: hub.url,
    accessToken: extra.accessToken ?? TOKEN,
    cacheDir: join(cacheRoot, `run${run++}`),
    retries: extra.retries ?? 2,
    retryDelayMs: 2,
    ...(extra.revision ? { revision: extra.revision } : {}),
    ...(extra.maxRetryAfterMs !== undefined ? { maxRetryAfterMs: extra.maxRetryAfterMs } : {}),
  }).catch((e: unknown) => e);
  hub.options.metadataFailure = undefined;
  const urls = hub.requests.slice(before).map((q) => q.url);
  return { outcome, revisionCalls: urls.filter((u) => u.includes("/revision/")).length, treeCalls: urls.filter((u) => u.includes("/tree/")).length };
}

describe("pullSnapshot retries the Hub's metadata calls", () => {
  it("a revision lookup answered 503 once succeeds on the retry", async () => {
    const r = await pullWith({ route: "revision", answer: 503, times: 1 });
    expect(r.outcome).toMatchObject({ commit, usedNetwork: true });
    expect(r.revisionCalls).toBe(2);
  });

  it("a connection reset on the listing and a 429 with Retry-After are retried; Retry-After is bounded", async () => {
    const reset = await pullWith({ route: "tree", answer: "reset", times: 1 });
    expect(reset.outcome).toMatchObject({ commit });
    expect(reset.treeCalls).toBe(2);

    const t0 = Date.now();
    // Retry-After: 30 s, capped to 20 ms: a hostile server cannot stall the pull.
    const limited = await pullWith({ route: "tree", answer: 429, times: 1, headers: { "retry-after": "30" } }, { maxRetryAfterMs: 20 });
    expect(limited.outcome).toMatchObject({ commit });
    expect(limited.treeCalls).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5000);

    // The Retry-After the Hub sent reaches the error the retry policy reads.
    const asked = await pullWith({ route: "revision", answer: 429, times: 1, headers: { "retry-after": "30" } }, { retries: 0 });
    expect((asked.outcome as HubRequestError).retryAfterMs).toBe(30_000);
    expect(asked.revisionCalls).toBe(1);
  });

  it("a revision route that keeps answering 503 fails after retries+1 attempts with one line", async () => {
    const r = await pullWith({ route: "revision", answer: 503, times: Infinity });
    expect(r.outcome).toBeInstanceOf(HubRequestError);
    const err = r.outcome as HubRequestError;
    expect(err.statusCode).toBe(503);
    expect(err.message).toMatch(/^failed to resolve revision main of moeq-test\/retry: the Hub answered HTTP 503 .*\(gave up after 3 attempts\)$/);
    expect(err.message).not.toContain("\n");
    expect(r.revisionCalls).toBe(3);
  });

  it("a listing whose connection keeps breaking fails as HubTransferError after retries+1 attempts", async () => {
    const r = await pullWith({ route: "tree", answer: "reset", times: Infinity });
    expect(r.outcome).toBeInstanceOf(HubTransferError);
    expect((r.outcome as Error).message).toMatch(/^failed to list files of moeq-test\/retry@.*\(gave up after 3 attempts\)$/);
    expect(r.treeCalls).toBe(3);
  });

  it("never retries 404, 401, 403 or other 4xx", async () => {
    const missing = await pullWith(undefined, { revision: "no-such-branch" });
    expect((missing.outcome as HubRequestError).code).toBe("HUB_REVISION_NOT_FOUND");
    expect(missing.revisionCalls).toBe(1);

    const unauthorized = await pullWith(undefined, { accessToken: "hf_wrongTOKEN000000000000000000" });
    expect((unauthorized.outcome as HubRequestError).statusCode).toBe(401);
    expect(unauthorized.revisionCalls).toBe(1);

    for (const answer of [403, 400, 501]) {
      const r = await pullWith({ route: "tree", answer, times: Infinity });
      expect((r.outcome as HubRequestError).statusCode).toBe(answer);
      expect((r.outcome as Error).message).not.toContain("gave up");
      expect(r.treeCalls).toBe(1);
    }
  });
});

describe("retry policy", () => {
  const err503 = (retryAfterMs?: number) => new HubRequestError("HUB_HTTP_ERROR", "x", { statusCode: 503, url: "", retryAfterMs });

  it("parses Retry-After as seconds or an HTTP-date", () => {
    expect(parseRetryAfter("7")).toBe(7000);
    expect(parseRetryAfter(new Date(10_000 + 4000).toUTCString(), 10_000)).toBe(4000);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:00 GMT", 10_000)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("waits for Retry-After when longer than the backoff, up to maxRetryAfterMs", () => {
    const policy = { retryDelayMs: 100, maxRetryAfterMs: 5000 };
    expect(hubRetryDelayMs(err503(), 2, policy)).toBe(400);
    expect(hubRetryDelayMs(err503(2000), 0, policy)).toBe(2000);
    expect(hubRetryDelayMs(err503(90_000), 0, policy)).toBe(5000);
    expect(hubRetryDelayMs(err503(10), 3, policy)).toBe(800);
  });

  it("does not retry errors that are not Hub transfer failures", async () => {
    let calls = 0;
    const boom = await withHubRetries({ retries: 3, retryDelayMs: 1 }, async () => {
      calls++;
      throw new Error("bug");
    }).catch((e: unknown) => e);
    expect((boom as Error).message).toBe("bug");
    expect(calls).toBe(1);
  });
});

describe("isNetworkFailure", () => {
  const fetchFailed = (code: string) => Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error(code), { code }) });
  it("counts resets and cut bodies, not a refused connection, an unknown host or a file error", () => {
    expect(isNetworkFailure(fetchFailed("ECONNRESET"))).toBe(true);
    expect(isNetworkFailure(fetchFailed("UND_ERR_SOCKET"))).toBe(true);
    expect(isNetworkFailure(new TypeError("terminated"))).toBe(true);
    expect(isNetworkFailure(fetchFailed("ECONNREFUSED"))).toBe(false);
    expect(isNetworkFailure(fetchFailed("ENOTFOUND"))).toBe(false);
    expect(isNetworkFailure(Object.assign(new Error("no file"), { code: "ENOENT" }))).toBe(false);
    expect(isNetworkFailure("ECONNRESET")).toBe(false);
  });
});
