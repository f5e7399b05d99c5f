import { mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isProcessAlive } from "@moeq/formats";
import { repoFolderName, type RepoCachePaths } from "./cache-layout.js";

/**
 * `<cache>/.locks/models--org--name/<etag>.moeq-lock`: one download of a blob at a time across moeq
 * processes sharing a cache (huggingface_hub keeps `<etag>.lock` flock files in the same folder; ours
 * has its own suffix because Node has no flock and Python never deletes its lock files).
 */
export function blobLockPath(cacheDir: string, paths: RepoCachePaths, etag: string): string {
  return join(cacheDir, ".locks", repoFolderName(paths.repo), `${etag}.moeq-lock`);
}

/** A lock whose owner died (e.g. a SIGKILLed pull) or that stayed empty for 10 s is stale. */
async function isStale(lockPath: string): Promise<boolean> {
  const text = await readFile(lockPath, "utf8").catch(() => undefined);
  if (text === undefined) return false; // gone already: just retry
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0) return !isProcessAlive(pid);
  const st = await stat(lockPath).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > 10_000;
}

/** Runs `fn` holding the blob's lock, waiting (polling every `pollMs`) while another live process holds it. */
export async function withBlobLock<T>(lockPath: string, fn: () => Promise<T>, pollMs = 200): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      const fh = await open(lockPath, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (await isStale(lockPath)) await unlink(lockPath).catch(() => undefined);
      else await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}
