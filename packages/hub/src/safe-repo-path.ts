import { isAbsolute, relative, resolve, sep } from "node:path";
import { UnsafeRepoPathError } from "./hub-errors.js";

/**
 * Filenames listed by the Hub are untrusted. A safe one is a relative POSIX path of plain segments:
 * not absolute, no `..` or `.` or empty segments, no backslash (a Windows separator), no NUL or other
 * control characters, and not inside a `.git` folder. Returns the path unchanged or throws.
 */
export function assertSafeRepoPath(path: string, repo: string): string {
  const refuse = (why: string): never => {
    throw new UnsafeRepoPathError("HUB_UNSAFE_PATH", `refusing repo file name ${JSON.stringify(path)} from ${repo}: ${why}`);
  };
  if (typeof path !== "string" || path.length === 0) refuse("empty name");
  if (path.length > 4096) refuse("longer than 4096 characters");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) refuse("contains NUL or a control character");
  if (path.includes("\\")) refuse("contains a backslash");
  if (path.startsWith("/") || isAbsolute(path) || /^[A-Za-z]:/.test(path)) refuse("absolute path");
  const segments = path.split("/");
  for (const s of segments) {
    if (s === "") refuse("empty path segment");
    if (s === "." || s === "..") refuse(`'${s}' segment`);
    if (s === ".git") refuse("inside .git");
  }
  return path;
}

/** Joins a checked repo path under `root` and proves the result stays inside it. */
export function resolveInside(root: string, repoPath: string, repo: string): string {
  assertSafeRepoPath(repoPath, repo);
  const full = resolve(root, ...repoPath.split("/"));
  const rel = relative(resolve(root), full);
  if (rel === "" || rel.startsWith(".." + sep) || rel === ".." || isAbsolute(rel)) {
    throw new UnsafeRepoPathError("HUB_UNSAFE_PATH", `refusing repo file name ${JSON.stringify(repoPath)} from ${repo}: lands outside the snapshot`);
  }
  return full;
}
