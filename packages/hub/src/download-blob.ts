import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { fsyncDir } from "@moeq/formats";
import { normalizeEtag } from "./cache-layout.js";
import { HubIntegrityError, HubRequestError, HubTransferError, hubErrorFromResponse } from "./hub-errors.js";
import { redactSecret } from "./redact.js";
import type { RepoFileEntry } from "./list-repo-files.js";

/** What to fetch, where to put it, and what it must hash to. */
export interface BlobDownloadParams {
  /** `{endpoint}/{repo}/resolve/{commit}/{path}`. */
  readonly url: string;
  /** The Hub endpoint; the token is sent only to this origin, never to a CDN it redirects to. */
  readonly hubUrl: string;
  readonly accessToken?: string | undefined;
  readonly fetch?: typeof fetch;
  readonly entry: RepoFileEntry;
  /** The commit the URL names; a different X-Repo-Commit answer is refused. */
  readonly commit: string;
  /** `blobs/<etag>.incomplete`: appended to, and resumed from, across runs. */
  readonly incompletePath: string;
  /** `blobs/<etag>`: only ever created by renaming a verified download. */
  readonly blobPath: string;
  /** Repo id, for messages. */
  readonly repo: string;
  /** Called once the transfer starts, with the byte offset it resumes from. */
  readonly onStart?: (resumedFrom: number) => void;
  /** Called with the size of each chunk written. */
  readonly onBytes?: (bytes: number) => void;
}

export interface BlobDownloadResult {
  /** Bytes that were already in the .incomplete file and were not fetched again. */
  readonly resumedFrom: number;
  /** Bytes fetched in this run. */
  readonly fetchedBytes: number;
}

const MAX_REDIRECTS = 5;
/** Bytes buffered before a write: large enough to amortise syscalls, small enough that a kill loses little. */
const WRITE_BATCH = 1 << 20;
const WRITE_INTERVAL_MS = 200;

/**
 * The hasher that proves a blob is what the Hub's metadata says: sha256 of the content for LFS files
 * (the LFS oid, also sent as X-Linked-Etag), git's blob sha1 (`blob <size>\0` + content) for regular files.
 */
function contentHasher(entry: RepoFileEntry): { hash: Hash; expected: string; algo: string } {
  if (entry.lfsSha256) return { hash: createHash("sha256"), expected: entry.lfsSha256, algo: "sha256" };
  const hash = createHash("sha1");
  hash.update(`blob ${entry.size}\0`);
  return { hash, expected: entry.gitBlobSha1 ?? entry.etag, algo: "git blob sha1" };
}

async function fileSize(path: string): Promise<number> {
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? st.size : 0;
}

/** Feeds the bytes already on disk to the hasher, streaming (never the whole file in memory). */
async function hashExisting(path: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

/**
 * GETs the resolve URL, following redirects by hand so the Hub's own headers (X-Linked-Etag,
 * X-Linked-Size, X-Repo-Commit on the 302 to the CDN) can be checked, and so the Authorization
 * header never follows a redirect to another origin.
 */
async function openTransfer(p: BlobDownloadParams, rangeStart: number): Promise<Response> {
  const doFetch = p.fetch ?? fetch;
  const hubOrigin = new URL(p.hubUrl).origin;
  const ctx = { action: `download ${p.entry.path} from ${p.repo}`, token: p.accessToken, file: p.entry.path };
  let url = p.url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { "Accept-Encoding": "identity" };
    if (p.accessToken && new URL(url).origin === hubOrigin) headers.Authorization = `Bearer ${p.accessToken}`;
    if (rangeStart > 0) headers.Range = `bytes=${rangeStart}-`;
    let res: Response;
    try {
      res = await doFetch(url, { headers, redirect: "manual" });
    } catch (err) {
      throw transferError(p, err);
    }
    // Only the Hub's own answers carry its metadata; a CDN's ETag means something else.
    if (new URL(url).origin === hubOrigin) checkHubHeaders(p, res);
    if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
      await res.body?.cancel();
      url = new URL(res.headers.get("location")!, url).toString();
      continue;
    }
    if (res.status === 200 || res.status === 206 || res.status === 416) return res;
    throw await hubErrorFromResponse(res, ctx);
  }
  throw new HubRequestError("HUB_TOO_MANY_REDIRECTS", `failed to ${ctx.action}: more than ${MAX_REDIRECTS} redirects`, {
    statusCode: 0,
    url: "",
    file: p.entry.path,
  });
}

/** The resolve answer must describe the same blob and commit as the tree listing did. */
function checkHubHeaders(p: BlobDownloadParams, res: Response): void {
  if (res.status >= 400) return;
  const linked = res.headers.get("x-linked-etag") ?? res.headers.get("etag");
  const commit = res.headers.get("x-repo-commit");
  const linkedSize = res.headers.get("x-linked-size");
  const fail = (why: string) =>
    new HubIntegrityError("HUB_METADATA_MISMATCH", `${p.repo}: ${p.entry.path}: ${why}; refusing to download it`, { file: p.entry.path });
  if (linked && normalizeEtag(linked) !== p.entry.etag) throw fail(`the Hub's etag ${normalizeEtag(linked)} differs from the listing's ${p.entry.etag}`);
  if (commit && commit !== p.commit) throw fail(`the Hub served commit ${commit}, expected ${p.commit}`);
  if (linkedSize !== null && Number(linkedSize) !== p.entry.size) throw fail(`X-Linked-Size ${linkedSize} differs from the listing's ${p.entry.size}`);
}

/** A network-level failure (connection refused/reset, body cut short) as a retryable, redacted error. */
function transferError(p: BlobDownloadParams, err: unknown): HubTransferError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const why = [e?.message, e?.cause?.code ?? e?.cause?.message].filter(Boolean).join(": ");
  return new HubTransferError("HUB_TRANSFER_FAILED", `failed to download ${p.entry.path} from ${p.repo}: ${redactSecret(why || String(err), p.accessToken)}`, {
    statusCode: 0,
    url: "",
    file: p.entry.path,
  });
}

/** `bytes a-b/total` → a, or undefined. */
function contentRangeStart(header: string | null): number | undefined {
  const m = header ? /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * Downloads one blob into `blobs/<etag>.incomplete`, resuming with `Range: bytes=<have>-` when a
 * previous run left bytes there, then checks size and hash BEFORE renaming it to `blobs/<etag>`.
 * A mismatch deletes the partial file and throws HubIntegrityError; nothing unverified is ever linked.
 */
export async function downloadBlob(p: BlobDownloadParams): Promise<BlobDownloadResult> {
  const { entry } = p;
  let have = await fileSize(p.incompletePath);
  if (have > entry.size) {
    await unlink(p.incompletePath);
    have = 0;
  }
  // Hash the bytes already on disk BEFORE opening the connection: for a large partial file this takes
  // a while, and a response left idle that long may be dropped by the server or CDN.
  let hasher = contentHasher(entry);
  await hashExisting(p.incompletePath, have, hasher.hash);
  let fetched = 0;
  if (have < entry.size || entry.size === 0) {
    let res = await openTransfer(p, have);
    if (res.status === 416 || (res.status === 206 && contentRangeStart(res.headers.get("content-range")) !== have)) {
      // The server cannot continue where we stopped: start over from byte 0.
      await res.body?.cancel();
      await unlink(p.incompletePath).catch(() => undefined);
      have = 0;
      res = await openTransfer(p, 0);
    }
    if (res.status === 200 && have > 0) have = 0; // a full body: the server ignored the Range header
    if (res.status !== 200 && res.status !== 206) {
      throw new HubRequestError("HUB_HTTP_ERROR", `failed to download ${entry.path} from ${p.repo}: HTTP ${res.status}`, {
        statusCode: res.status,
        url: "",
        file: entry.path,
      });
    }
    if (have === 0) hasher = contentHasher(entry); // starting over: drop the prefix hashed above
    p.onStart?.(have);
    const fh = await open(p.incompletePath, have > 0 ? "a" : "w");
    // Network chunks are ~16-64 KiB; write them in batches (one writev per WRITE_BATCH bytes or
    // WRITE_INTERVAL_MS), so a killed pull loses at most that much and resumes from the rest.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let lastFlush = Date.now();
    const flush = async () => {
      lastFlush = Date.now();
      if (pendingBytes === 0) return;
      await fh.writev(pending);
      p.onBytes?.(pendingBytes);
      pending = [];
      pendingBytes = 0;
    };
    try {
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (have + fetched + chunk.byteLength > entry.size) {
            throw new HubIntegrityError("HUB_SIZE_MISMATCH", `${p.repo}: ${entry.path}: the server sent more than the expected ${entry.size} bytes`, {
              file: entry.path,
            });
          }
          hasher.hash.update(chunk);
          fetched += chunk.byteLength;
          pending.push(chunk);
          pendingBytes += chunk.byteLength;
          if (pendingBytes >= WRITE_BATCH || Date.now() - lastFlush >= WRITE_INTERVAL_MS) await flush();
        }
      }
      await flush();
      await fh.sync();
    } catch (err) {
      // Keep what arrived: written bytes stay in .incomplete for the retry / next run to resume from.
      await flush().catch(() => undefined);
      await fh.close();
      if (err instanceof HubIntegrityError) {
        await unlink(p.incompletePath).catch(() => undefined);
        throw err;
      }
      throw err instanceof HubRequestError ? err : transferError(p, err);
    }
    await fh.close();
  } else {
    p.onStart?.(have);
  }
  const total = await fileSize(p.incompletePath);
  const digest = hasher.hash.digest("hex");
  if (total !== entry.size || digest !== hasher.expected) {
    await unlink(p.incompletePath).catch(() => undefined);
    const why = total !== entry.size ? `size ${total} bytes, expected ${entry.size}` : `${hasher.algo} ${digest}, expected ${hasher.expected}`;
    throw new HubIntegrityError(
      "HUB_CHECKSUM_MISMATCH",
      `${p.repo}: ${entry.path}: downloaded content failed verification (${why}); the partial file was deleted, run the pull again`,
      {
        file: entry.path,
        details: { path: entry.path, expected: hasher.expected, actual: digest, size: total },
      },
    );
  }
  await rename(p.incompletePath, p.blobPath);
  await fsyncDir(dirname(p.blobPath));
  return { resumedFrom: have, fetchedBytes: fetched };
}
