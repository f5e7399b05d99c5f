/**
 * `--include` / `--exclude` patterns with the semantics of huggingface_hub filter_repo_objects:
 * fnmatch on the whole repo path, where `*` also crosses `/`, `?` is one character, `[...]` a set
 * (`[!...]` negated); a pattern ending in `/` means everything below that folder.
 */
export function globToRegExp(pattern: string): RegExp {
  const p = pattern.endsWith("/") ? pattern + "*" : pattern;
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const close = p.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = p.slice(i + 1, close);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/** True when `path` passes the include list (empty = everything) and matches no exclude pattern. */
export function selectRepoPath(path: string, include: readonly string[] = [], exclude: readonly string[] = []): boolean {
  if (include.length > 0 && !include.some((g) => globToRegExp(g).test(path))) return false;
  return !exclude.some((g) => globToRegExp(g).test(path));
}
