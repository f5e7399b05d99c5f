import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "@moeq/formats";
import type { RepoCachePaths } from "./cache-layout.js";
import type { RepoFileEntry } from "./list-repo-files.js";
import { isCommitHash } from "./repo-id.js";
import { assertSafeRepoPath } from "./safe-repo-path.js";

/**
 * The tree listing of a commit, kept beside the Python layout in `models--org--name/.moeq/<commit>.json`
 * (huggingface_hub only reads blobs/, refs/ and snapshots/, so the extra folder is invisible to it).
 * It lets a pull of a commit hash decide "already complete" without any request to the Hub.
 */
interface ListingFile {
  readonly version: 1;
  readonly commit: string;
  readonly files: readonly RepoFileEntry[];
}

function listingPath(paths: RepoCachePaths, commit: string): string {
  return join(paths.root, ".moeq", `${commit}.json`);
}

export async function writeSnapshotListing(paths: RepoCachePaths, commit: string, files: readonly RepoFileEntry[]): Promise<void> {
  const body: ListingFile = { version: 1, commit, files };
  const file = listingPath(paths, commit);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(body));
}

/** The cached listing, or undefined when absent or not trustworthy (then the Hub is asked again). */
export async function readSnapshotListing(paths: RepoCachePaths, commit: string): Promise<RepoFileEntry[] | undefined> {
  if (!isCommitHash(commit)) return undefined;
  try {
    const parsed = JSON.parse(await readFile(listingPath(paths, commit), "utf8")) as Partial<ListingFile>;
    if (parsed.version !== 1 || parsed.commit !== commit || !Array.isArray(parsed.files)) return undefined;
    for (const f of parsed.files) {
      assertSafeRepoPath(f.path, paths.repo.id);
      if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(f.etag) || !Number.isSafeInteger(f.size)) return undefined;
    }
    return parsed.files as RepoFileEntry[];
  } catch {
    return undefined;
  }
}
