import { mkdir, readFile, readlink, rename, stat, symlink, unlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { randomBytes } from "node:crypto";
import { fsyncDir, writeFileAtomic } from "@moeq/formats";
import type { RepoId } from "./repo-id.js";
import { assertSafeRevision, isCommitHash } from "./repo-id.js";
import { resolveInside } from "./safe-repo-path.js";

/**
 * The cache layout of Python's huggingface_hub (file_download.py), so both tools share one cache:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>               file content, named by its sha256 (LFS) or git blob sha1 (regular file)
 *     blobs/<etag>.incomplete    a download in progress; resumed with an HTTP Range request
 *     refs/<revision>            the commit a branch or tag resolved to (no trailing newline)
 *     snapshots/<commit>/<path>  relative symlink to ../../blobs/<etag> (one more ../ per folder level)
 */
export interface RepoCachePaths {
  readonly repo: RepoId;
  readonly root: string;
  readonly blobs: string;
  readonly refs: string;
  readonly snapshots: string;
}

/** `models--org--name`, as huggingface_hub repo_folder_name builds it (separator `--`). */
export function repoFolderName(repo: RepoId): string {
  return ["models", ...repo.id.split("/")].join("--");
}

export function repoCachePaths(cacheDir: string, repo: RepoId): RepoCachePaths {
  const root = join(cacheDir, repoFolderName(repo));
  return { repo, root, blobs: join(root, "blobs"), refs: join(root, "refs"), snapshots: join(root, "snapshots") };
}

/** An ETag header value as huggingface_hub _normalize_etag stores it: no `W/` prefix, no quotes. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** A blob name we are willing to use as a file name: a hex digest (git sha1 or sha256). */
export function isBlobName(etag: string): boolean {
  return /^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag);
}

export function blobPath(paths: RepoCachePaths, etag: string): string {
  return join(paths.blobs, etag);
}

export function snapshotDir(paths: RepoCachePaths, commit: string): string {
  return join(paths.snapshots, commit);
}

/** The snapshot entry for a repo file; throws on a path that could escape the snapshot. */
export function snapshotPointer(paths: RepoCachePaths, commit: string, repoPath: string): string {
  return resolveInside(snapshotDir(paths, commit), repoPath, paths.repo.id);
}

/** Records `refs/<revision>` → commit, unless the revision already is that commit (as Python does). */
export async function writeRef(paths: RepoCachePaths, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  assertSafeRevision(revision);
  const refPath = join(paths.refs, ...revision.split("/"));
  const current = await readFile(refPath, "utf8").catch(() => undefined);
  if (current?.trim() === commit) return;
  // huggingface_hub reads every file under refs/ as a ref, so the temp file goes in the repo folder.
  await mkdir(dirname(refPath), { recursive: true });
  await writeFileAtomic(refPath, commit, { tempDir: paths.root });
}

/** The commit a revision stands for, from refs/ (or the revision itself when it is a commit hash). */
export async function readRef(paths: RepoCachePaths, revision: string): Promise<string | undefined> {
  if (isCommitHash(revision)) return revision;
  assertSafeRevision(revision);
  const text = await readFile(join(paths.refs, ...revision.split("/")), "utf8").catch(() => undefined);
  const commit = text?.trim();
  return commit && isCommitHash(commit) ? commit : undefined;
}

/**
 * Links `snapshots/<commit>/<repoPath>` to `blobs/<etag>` with a relative symlink (huggingface_hub
 * _create_symlink uses os.path.relpath the same way). Replaces an existing entry atomically.
 */
export async function linkIntoSnapshot(paths: RepoCachePaths, commit: string, repoPath: string, etag: string): Promise<string> {
  const pointer = snapshotPointer(paths, commit, repoPath);
  const target = relative(dirname(pointer), blobPath(paths, etag));
  await mkdir(dirname(pointer), { recursive: true });
  if ((await readlink(pointer).catch(() => undefined)) === target) return pointer;
  const tmp = `${pointer}.${randomBytes(4).toString("hex")}.tmp-link`;
  await symlink(target, tmp);
  try {
    await rename(tmp, pointer);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(pointer));
  return pointer;
}

/** True when the snapshot entry exists, points at `blobs/<etag>`, and that blob has `size` bytes. */
export async function isLinkedAndComplete(paths: RepoCachePaths, commit: string, repoPath: string, etag: string, size: number): Promise<boolean> {
  const pointer = snapshotPointer(paths, commit, repoPath);
  const target = await readlink(pointer).catch(() => undefined);
  if (target !== relative(dirname(pointer), blobPath(paths, etag))) return false;
  const st = await stat(blobPath(paths, etag)).catch(() => undefined);
  return st !== undefined && st.isFile() && st.size === size;
}
