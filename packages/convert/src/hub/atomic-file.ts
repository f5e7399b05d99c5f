import { open, rename, mkdir, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * Writes `data` to `path` crash-safe: a temp name, fsync, rename, fsync the folder. The temp file lives
 * in `tmpDir` (same file system; default the target's folder) so a crash never leaves stray names in
 * a folder other tools enumerate, such as refs/.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, tmpDir?: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  if (tmpDir) await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir ?? dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dir);
}

/** fsync a directory so a rename or symlink in it survives a power cut (best effort where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await fh?.close();
  }
}
