// Seeded fuzzing of the imatrix readers (GGUF and legacy .dat): each hostile file is read or refused with a typed
// one-line error, quickly and in bounded memory. `npm run fuzz` runs the same targets with MOEQ_FUZZ_CASES=10000.
import { describe, it } from "vitest";
import { expectFuzzClean, FUZZ_TIMEOUT_MS } from "@moeq/test-support/header-fuzz";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { IMATRIX_DAT_TARGET, IMATRIX_GGUF_TARGET } from "./test-utils/imatrix-fuzz-targets.js";

const dir = suiteTempDir("moeq-imatrix-fuzz-");

describe("imatrix fuzzing", () => {
  it.each([
    [IMATRIX_GGUF_TARGET, 0x1a7c],
    [IMATRIX_DAT_TARGET, 0xda7],
  ])(
    "$name: every mutated file is read or refused with a typed one-line error",
    (target, seed) => expectFuzzClean(target, { cases: 400, seed, dir: dir.path, minCodes: 3 }),
    FUZZ_TIMEOUT_MS,
  );
});
