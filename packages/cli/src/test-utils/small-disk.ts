// A folder where writes run out of room after `bytes`, for the full-disk tests. Test-only.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** How the folder runs out of room: a small tmpfs (ENOSPC) or a file-size limit (EFBIG). */
export type SmallDiskKind = "tmpfs" | "rlimit";

/**
 * Runs `fn` with a folder that holds at most about `bytes`: a tmpfs of that size where this process may mount one
 * (root, as on CI), which fails writes with ENOSPC; otherwise an ordinary folder with this process's file-size limit
 * (RLIMIT_FSIZE, soft) lowered to `bytes` through prlimit, which fails them with EFBIG (`only: "rlimit"` forces that). Both are undone afterwards.
 */
export async function withSmallDisk<T>(
  bytes: number,
  fn: (dir: string, how: SmallDiskKind) => Promise<T>,
  only: SmallDiskKind | undefined = undefined,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "moeq-small-disk-"));
  let mounted = false;
  try {
    if (only !== "rlimit") {
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "ignore" });
        mounted = true;
      } catch {
        /* not allowed here: fall back to the file-size limit */
      }
    }
    if (mounted) return await fn(dir, "tmpfs");
    execFileSync("prlimit", ["--pid", String(process.pid), `--fsize=${bytes}:`]);
    try {
      return await fn(dir, "rlimit");
    } finally {
      execFileSync("prlimit", ["--pid", String(process.pid), "--fsize=unlimited:"]);
    }
  } finally {
    if (mounted) execFileSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
