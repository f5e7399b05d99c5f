import { afterAll, beforeAll } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A fresh temp folder for one test file: made in a beforeAll (registered here, so it runs before the hooks the
 * file registers after this call) and removed with everything in it after the file's tests. Read `.path` only
 * inside hooks and tests.
 */
export function suiteTempDir(prefix: string): { readonly path: string } {
  let path: string | undefined;
  beforeAll(() => {
    path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (path !== undefined) rmSync(path, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (path === undefined) throw new Error(`suiteTempDir(${prefix}): read before its beforeAll ran`);
      return path;
    },
  };
}
