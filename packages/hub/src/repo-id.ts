import { InputError } from "@moeq/formats";

/** A model repo on the Hub: `namespace/name`. */
export interface RepoId {
  readonly namespace: string;
  readonly name: string;
  /** `namespace/name`. */
  readonly id: string;
}

// Same rules as huggingface_hub validate_repo_id: letters, digits, `-`, `_`, `.`; no `--` or `..`;
// no leading/trailing `-` or `.`; at most 96 characters.
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/** Parses `org/name`; throws InputError naming the problem otherwise. */
export function parseRepoId(text: string): RepoId {
  const parts = text.split("/");
  const bad = (why: string) => new InputError("HUB_BAD_REPO_ID", `invalid repo id "${text}": ${why}; expected "org/name"`);
  if (parts.length !== 2) throw bad("it must have exactly one '/'");
  const [namespace, name] = parts as [string, string];
  for (const p of [namespace, name]) {
    if (!PART.test(p)) throw bad(`"${p}" may hold only letters, digits, '-', '_', '.' and must start and end with a letter or digit`);
    if (p.includes("--") || p.includes("..")) throw bad(`"${p}" contains '--' or '..'`);
  }
  if (text.length > 96) throw bad("longer than 96 characters");
  return { namespace, name, id: `${namespace}/${name}` };
}

/** A git revision (branch, tag, commit, refs/pr/N) safe to use as a path under refs/. */
export function assertSafeRevision(revision: string): string {
  const segments = revision.split("/");
  if (
    revision.length === 0 ||
    revision.length > 255 ||
    /[\\\0\s~^:?*[]/.test(revision) ||
    segments.some((s) => s === "" || s === "." || s === ".." || s.startsWith(".") || s.endsWith(".lock"))
  ) {
    throw new InputError("HUB_BAD_REVISION", `invalid revision "${revision}": not a git branch, tag or commit name`);
  }
  return revision;
}

/** A full 40-hex git commit id. */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}
