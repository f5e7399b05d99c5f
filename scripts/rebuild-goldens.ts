// Rebuilds the llama.cpp golden files of packages/eval/src/metrics/testdata with llama.cpp's own llama-perplexity
// (the files and the exact commands: test-support/llama-goldens.ts).
//   bash scripts/rebuild-goldens.sh            rewrites the files
//   bash scripts/rebuild-goldens.sh --check    fails unless the rebuilt files equal the committed ones byte for byte
// (`metrics/llama-cpp-golden.test.ts` makes the same check in `npm test`.) The repo's other reference files have their
// own commands: fixtures/tiny-llama4/reference (bash fixtures/tools/generate.sh), docs/ppl-by-ftype.md (scripts/ppl-table.ts).
import { expect, it } from "vitest";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildPerplexityGoldens, GOLDEN_DIR } from "@moeq/test-support/llama-goldens";

const check = process.env.MOEQ_GOLDEN_CHECK === "1";

it("llama-perplexity goldens (packages/eval/src/metrics/testdata)", () => {
  for (const [name, bytes] of buildPerplexityGoldens()) {
    const path = join(GOLDEN_DIR, name);
    if (check) {
      expect(Buffer.compare(bytes, readFileSync(path)), `${path}: the rebuilt golden differs from the committed one`).toBe(0);
      console.log(`${path}: rebuilt, byte-identical to the committed file (${bytes.length} bytes)`);
    } else {
      writeFileSync(`${path}.tmp`, bytes);
      renameSync(`${path}.tmp`, path);
      console.log(`${path}: written (${bytes.length} bytes)`);
    }
  }
});
