import { listFiles } from "@huggingface/hub";
import type { RepoId } from "./repo-id.js";
import { isCommitHash } from "./repo-id.js";
import { assertSafeRepoPath } from "./safe-repo-path.js";
import { HubRequestError, translateHubError } from "./hub-errors.js";
import { libraryCredentials, type HubClientOptions } from "./hub-client.js";

/** One file of a repo at a commit, as the tree listing describes it. */
export interface RepoFileEntry {
  /** Repo-relative POSIX path, already checked by assertSafeRepoPath. */
  readonly path: string;
  /** Content size in bytes (for LFS files the real size, not the pointer's). */
  readonly size: number;
  /** Blob name in the cache: the LFS sha256 for LFS files, else the git blob sha1 (what the ETag headers carry). */
  readonly etag: string;
  /** sha256 of the content when the file is stored in LFS. */
  readonly lfsSha256?: string;
  /** git blob sha1 of the content for regular (non-LFS) files. */
  readonly gitBlobSha1?: string;
}

/**
 * Lists every file of `repo` at `commit` (`GET /api/models/{repo}/tree/{commit}?recursive=true`,
 * following Link pagination). Untrusted names and malformed hashes are refused here, before any
 * path is built from them.
 */
export async function* listRepoFiles(params: HubClientOptions & { repo: RepoId; commit: string }): AsyncGenerator<RepoFileEntry> {
  if (!isCommitHash(params.commit)) throw new TypeError(`listRepoFiles needs a 40-hex commit, got ${params.commit}`);
  const ctx = { action: `list files of ${params.repo.id}@${params.commit.slice(0, 12)}`, token: params.accessToken };
  const bad = (path: string, why: string) =>
    new HubRequestError("HUB_BAD_LISTING", `failed to ${ctx.action}: entry ${JSON.stringify(path)} ${why}`, { statusCode: 200, url: params.hubUrl });
  const { lastError, ...credentials } = libraryCredentials(params);
  const iter = listFiles({ repo: { type: "model", name: params.repo.id }, revision: params.commit, recursive: true, ...credentials });
  while (true) {
    let step;
    try {
      step = await iter.next();
    } catch (err) {
      throw translateHubError(err, ctx, lastError);
    }
    if (step.done) return;
    const item = step.value;
    if (item.type !== "file") continue;
    const path = assertSafeRepoPath(item.path, params.repo.id);
    if (!Number.isSafeInteger(item.size) || item.size < 0) throw bad(path, `has an invalid size ${String(item.size)}`);
    if (item.lfs) {
      const sha = item.lfs.oid;
      if (typeof sha !== "string" || !/^[0-9a-f]{64}$/.test(sha)) throw bad(path, "has an LFS oid that is not a sha256");
      if (item.lfs.size !== item.size) throw bad(path, `has LFS size ${item.lfs.size} but size ${item.size}`);
      yield { path, size: item.size, etag: sha, lfsSha256: sha };
    } else {
      const oid = item.oid;
      if (typeof oid !== "string" || !/^[0-9a-f]{40}$/.test(oid)) throw bad(path, "has a git oid that is not a sha1");
      yield { path, size: item.size, etag: oid, gitBlobSha1: oid };
    }
  }
}
