import { mkdir, stat } from "node:fs/promises";
import pLimit from "p-limit";
import { InputError } from "@moeq/formats";
import type { RepoId } from "./repo-id.js";
import { assertSafeRevision, isCommitHash } from "./repo-id.js";
import { blobPath, isLinkedAndComplete, linkIntoSnapshot, readRef, repoCachePaths, snapshotDir, writeRef, type RepoCachePaths } from "./cache-layout.js";
import { resolveRevision } from "./resolve-revision.js";
import { listRepoFiles, type RepoFileEntry } from "./list-repo-files.js";
import { readSnapshotListing, writeSnapshotListing } from "./snapshot-listing.js";
import { selectRepoPath } from "./repo-glob.js";
import { downloadBlob } from "./download-blob.js";
import { blobLockPath, withBlobLock } from "./blob-lock.js";
import { OfflineCacheMissError } from "./hub-errors.js";
import { withHubRetries, type HubRetryPolicy } from "./retry.js";
import { checkAccessToken } from "./hub-client.js";

export interface PullParams extends HubRetryPolicy {
  readonly repo: RepoId;
  /** Branch, tag or commit; default "main". */
  readonly revision?: string;
  /** fnmatch patterns (huggingface_hub allow_patterns); empty = every file. */
  readonly include?: readonly string[];
  /** fnmatch patterns (huggingface_hub ignore_patterns). */
  readonly exclude?: readonly string[];
  /** Root of the models--org--name folders (HF_HUB_CACHE). */
  readonly cacheDir: string;
  readonly hubUrl: string;
  readonly accessToken?: string | undefined;
  /** Use only the cache (HF_HUB_OFFLINE). */
  readonly offline?: boolean;
  /** Parallel file downloads; default 4. */
  readonly concurrency?: number;
  /**
   * Retries (HubRetryPolicy: retries, retryDelayMs, maxRetryAfterMs) apply to each Hub call on its own:
   * the revision lookup, the tree listing, and each file (a file retry resumes with a Range request).
   */
  readonly fetch?: typeof fetch;
  readonly onProgress?: (event: PullProgressEvent) => void;
}

export type PullProgressEvent =
  | { readonly kind: "plan"; readonly files: number; readonly totalBytes: number; readonly cachedBytes: number }
  | { readonly kind: "file-start"; readonly path: string; readonly size: number; readonly resumedFrom: number }
  | { readonly kind: "file-bytes"; readonly path: string; readonly bytes: number }
  | { readonly kind: "file-done"; readonly path: string };

export type PulledFileStatus = "cached" | "linked" | "downloaded" | "resumed";

export interface PulledFile {
  readonly path: string;
  readonly size: number;
  readonly etag: string;
  readonly status: PulledFileStatus;
}

export interface PullResult {
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  /** `<cache>/models--org--name/snapshots/<commit>`: what `moeq convert` takes. */
  readonly snapshotPath: string;
  readonly files: readonly PulledFile[];
  /** Bytes fetched over the network in this run. */
  readonly fetchedBytes: number;
  /** False when the answer came from the cache alone (offline, or a complete commit snapshot). */
  readonly usedNetwork: boolean;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

function selectFiles(files: readonly RepoFileEntry[], p: PullParams): RepoFileEntry[] {
  return files.filter((f) => selectRepoPath(f.path, p.include, p.exclude));
}

/** Every selected file already linked to a blob of the right size, or undefined when any is missing. */
async function completeFromCache(paths: RepoCachePaths, commit: string, selected: readonly RepoFileEntry[]): Promise<PulledFile[] | undefined> {
  const out: PulledFile[] = [];
  for (const f of selected) {
    if (!(await isLinkedAndComplete(paths, commit, f.path, f.etag, f.size))) return undefined;
    out.push({ path: f.path, size: f.size, etag: f.etag, status: "cached" });
  }
  return out;
}

function noMatch(p: PullParams, commit: string): InputError {
  return new InputError(
    "HUB_NO_FILES",
    `no file of ${p.repo.id}@${commit.slice(0, 12)} matches --include ${JSON.stringify(p.include ?? [])} / --exclude ${JSON.stringify(p.exclude ?? [])}`,
  );
}

/** Answers from the cache alone, as huggingface_hub does with HF_HUB_OFFLINE=1. */
async function pullOffline(p: PullParams, paths: RepoCachePaths, revision: string): Promise<PullResult> {
  const commit = await readRef(paths, revision);
  const miss = (why: string) =>
    new OfflineCacheMissError("HUB_OFFLINE_MISS", `HF_HUB_OFFLINE is set and ${p.repo.id}@${revision} ${why} in the cache ${p.cacheDir}; pull it once online`);
  if (!commit) throw miss("has no recorded commit");
  const dir = snapshotDir(paths, commit);
  if (!(await exists(dir))) throw miss("has no snapshot");
  const listing = await readSnapshotListing(paths, commit);
  let files: PulledFile[] = [];
  if (listing) {
    const selected = selectFiles(listing, p);
    if (selected.length === 0) throw noMatch(p, commit);
    const complete = await completeFromCache(paths, commit, selected);
    if (!complete) throw miss("is incomplete");
    files = complete;
  }
  return { repo: p.repo.id, revision, commit, snapshotPath: dir, files, fetchedBytes: 0, usedNetwork: false };
}

/**
 * Pulls a repo revision into the huggingface_hub cache layout and returns the snapshot folder.
 * Resolves the revision to a commit first; downloads only what is missing (resuming partial blobs),
 * verifies every blob against the Hub's sha256 / git sha1 before linking it, writes refs/<revision>.
 * A commit-hash revision whose snapshot is complete is answered without any request.
 */
export async function pullSnapshot(p: PullParams): Promise<PullResult> {
  const revision = assertSafeRevision(p.revision ?? "main");
  const paths = repoCachePaths(p.cacheDir, p.repo);
  if (p.offline) return pullOffline(p, paths, revision);
  checkAccessToken(p.accessToken);

  if (isCommitHash(revision)) {
    const listing = await readSnapshotListing(paths, revision);
    const selected = listing ? selectFiles(listing, p) : [];
    const complete = selected.length > 0 ? await completeFromCache(paths, revision, selected) : undefined;
    if (complete) {
      return { repo: p.repo.id, revision, commit: revision, snapshotPath: snapshotDir(paths, revision), files: complete, fetchedBytes: 0, usedNetwork: false };
    }
  }

  const client = { hubUrl: p.hubUrl, accessToken: p.accessToken, fetch: p.fetch };
  const commit = isCommitHash(revision) ? revision : await withHubRetries(p, () => resolveRevision({ ...client, repo: p.repo, revision }));
  // A failed page restarts the listing from the first page: entries are only kept from a complete pass.
  const listing = await withHubRetries(p, async () => {
    const entries: RepoFileEntry[] = [];
    for await (const entry of listRepoFiles({ ...client, repo: p.repo, commit })) entries.push(entry);
    return entries;
  });
  await mkdir(paths.blobs, { recursive: true });
  await writeSnapshotListing(paths, commit, listing);
  await writeRef(paths, revision, commit);

  const selected = selectFiles(listing, p);
  if (selected.length === 0) throw noMatch(p, commit);

  // Files with identical content share one blob: fetch each blob once, link every path to it.
  const byBlob = new Map<string, RepoFileEntry[]>();
  const results = new Map<string, PulledFile>();
  let cachedBytes = 0;
  for (const f of selected) {
    if (await isLinkedAndComplete(paths, commit, f.path, f.etag, f.size)) {
      results.set(f.path, { path: f.path, size: f.size, etag: f.etag, status: "cached" });
      cachedBytes += f.size;
      continue;
    }
    const group = byBlob.get(f.etag) ?? [];
    group.push(f);
    byBlob.set(f.etag, group);
  }
  const totalBytes = selected.reduce((s, f) => s + f.size, 0);
  p.onProgress?.({ kind: "plan", files: selected.length, totalBytes, cachedBytes });

  const limit = pLimit(Math.max(1, p.concurrency ?? 4));
  let fetchedBytes = 0;
  // allSettled: a failed blob must not leave other downloads writing after we return.
  const settled = await Promise.allSettled(
    [...byBlob.entries()].map(([etag, group]) =>
      limit(async () => {
        const first = group[0]!;
        const blob = blobPath(paths, etag);
        let status: PulledFileStatus = "linked";
        const blobSt = await stat(blob).catch(() => undefined);
        if (!blobSt || blobSt.size !== first.size)
          await withBlobLock(blobLockPath(p.cacheDir, paths, etag), async () => {
            // Another process may have finished this blob while we waited for the lock.
            if ((await stat(blob).catch(() => undefined))?.size === first.size) return;
            const encodedPath = first.path.split("/").map(encodeURIComponent).join("/");
            let firstResume: number | undefined;
            await withHubRetries(p, () =>
              downloadBlob({
                url: `${p.hubUrl}/${p.repo.id}/resolve/${commit}/${encodedPath}`,
                hubUrl: p.hubUrl,
                accessToken: p.accessToken,
                fetch: p.fetch,
                entry: first,
                commit,
                incompletePath: `${blob}.incomplete`,
                blobPath: blob,
                repo: p.repo.id,
                onStart: (resumedFrom) => {
                  if (firstResume !== undefined) return; // a retry continues the same file
                  firstResume = resumedFrom;
                  p.onProgress?.({ kind: "file-start", path: first.path, size: first.size, resumedFrom });
                },
                onBytes: (bytes) => {
                  fetchedBytes += bytes;
                  p.onProgress?.({ kind: "file-bytes", path: first.path, bytes });
                },
              }),
            );
            status = (firstResume ?? 0) > 0 ? "resumed" : "downloaded";
          });
        for (const f of group) {
          await linkIntoSnapshot(paths, commit, f.path, etag);
          results.set(f.path, { path: f.path, size: f.size, etag, status: f === first ? status : "linked" });
          p.onProgress?.({ kind: "file-done", path: f.path });
        }
      }),
    ),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  await mkdir(snapshotDir(paths, commit), { recursive: true });
  const files = selected.map((f) => results.get(f.path)!);
  return { repo: p.repo.id, revision, commit, snapshotPath: snapshotDir(paths, commit), files, fetchedBytes, usedNetwork: true };
}
