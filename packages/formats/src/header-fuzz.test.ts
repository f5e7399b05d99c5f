// Seeded fuzzing of the safetensors and GGUF header readers (test-support/header-fuzz.ts): every hostile file
// ends in a parse or a typed error with a one-line message, quickly and in bounded memory. `npm run fuzz` runs
// the same targets with MOEQ_FUZZ_CASES=10000.
import { describe, expect, it } from "vitest";
import { GGUF_TARGET, SAFETENSORS_TARGET, formatFuzzReport, fuzzCases, runFuzz } from "@moeq/test-support/header-fuzz";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";

const dir = suiteTempDir("moeq-fuzz-");

describe("header fuzzing", () => {
  it.each([
    [SAFETENSORS_TARGET, 0x5afe, 150],
    [GGUF_TARGET, 0x6603, 400],
  ])(
    "$name: every mutated file parses or is refused with a typed one-line error",
    async (target, seed, cases) => {
      const report = await runFuzz(target, { cases: fuzzCases(cases), seed, dir: dir.path });
      console.log(formatFuzzReport(report));
      expect(report.failures).toEqual([]);
      expect(report.peakRss).toBeLessThan(2 ** 31); // the whole worker's peak, hostile lengths included
      // the corpus exercises both outcomes, and many distinct refusals
      expect(report.parsed).toBeGreaterThan(0);
      expect(report.refusedByCode.size).toBeGreaterThan(5);
    },
    600_000,
  );
});
