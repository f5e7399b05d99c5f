// Seeded fuzzing of the safetensors and GGUF header readers (test-support/header-fuzz.ts): every hostile file
// ends in a parse or a typed error with a one-line message, quickly and in bounded memory. `npm run fuzz` runs
// the same targets with MOEQ_FUZZ_CASES=10000.
import { describe, it } from "vitest";
import { GGUF_TARGET, SAFETENSORS_TARGET, expectFuzzClean, FUZZ_TIMEOUT_MS } from "@moeq/test-support/header-fuzz";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const dir = suiteTempDir("moeq-fuzz-");

describe("header fuzzing", () => {
  it.each([
    [SAFETENSORS_TARGET, 0x5afe, 150],
    [GGUF_TARGET, 0x6603, 400],
  ])(
    "$name: every mutated file parses or is refused with a typed one-line error",
    (target, seed, cases) => expectFuzzClean(target, { cases, seed, dir: dir.path, minCodes: 6 }),
    FUZZ_TIMEOUT_MS,
  );
});
