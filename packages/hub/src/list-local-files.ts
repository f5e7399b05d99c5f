import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "@moeq/formats";

/** A file to upload: its repo path (POSIX) and where it is on disk. */
export interface LocalFile {
  readonly path: string;
  readonly absPath: string;
  readonly size: number;
}

const MAX_DEPTH = 8;

/** Never uploaded: VCS data, caches, and our own temp/partial files (huggingface_hub upload_folder skips .git and .cache/huggingface). */
function skipped(name: string): boolean {
  return name === ".git" || name === ".cache" || name === ".DS_Store" || name.endsWith(".incomplete") || name.endsWith(".tmp");
}

/**
 * Every regular file under `dir` (symlinks followed, so a pulled snapshot can be re-published),
 * sorted by path. Names with a backslash or control character are refused: they would not
 * round-trip through the Hub.
 */
export async function listLocalFiles(dir: string): Promise<LocalFile[]> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new InputError("PUBLISH_NOT_A_FOLDER", "not a folder", { file: dir });
  const out: LocalFile[] = [];
  const walk = async (abs: string, rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw new InputError("PUBLISH_TOO_DEEP", `folders nested deeper than ${MAX_DEPTH} levels`, { file: abs });
    for await (const entry of await opendir(abs)) {
      if (skipped(entry.name)) continue;
      // eslint-disable-next-line no-control-regex
      if (/[\\\u0000-\u001f]/.test(entry.name))
        throw new InputError("PUBLISH_BAD_NAME", "file name has a backslash or control character", { file: join(abs, entry.name) });
      const full = join(abs, entry.name);
      const repoPath = rel ? `${rel}/${entry.name}` : entry.name;
      const s = await stat(full);
      if (s.isDirectory()) await walk(full, repoPath, depth + 1);
      else if (s.isFile()) out.push({ path: repoPath, absPath: full, size: s.size });
    }
  };
  await walk(dir, "", 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
