/**
 * Bundles a TypeScript entry into one plain .mjs that `node` runs directly, for tests that must kill a
 * child process mid-transfer. Node 20 cannot run .ts and vitest's transform lives only in the test
 * process; a full `tsc -b` takes many seconds, while rolldown (already installed as vite's bundler)
 * bundles the entry with its imports in well under a second. The bundle goes to a temp folder.
 */
import { build } from "rolldown";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

export async function bundleEntryForNode(entry: string, outFile: string): Promise<string> {
  await build({
    input: entry,
    platform: "node",
    logLevel: "silent",
    resolve: { alias: { "@moeq/formats": `${repoRoot}packages/formats/src/index.ts` } },
    output: { file: outFile, format: "esm" },
  });
  return outFile;
}
