// Seeded fuzzing of the imatrix readers (GGUF and legacy .dat): each hostile file is read or refused with a typed
// one-line error, quickly and in bounded memory. `npm run fuzz` runs the same targets with MOEQ_FUZZ_CASES=10000.
import { describe, expect, it } from "vitest";
import { formatFuzzReport, fuzzCases, runFuzz } from "@moeq/test-support/header-fuzz";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { IMATRIX_DAT_TARGET, IMATRIX_GGUF_TARGET } from "./test-utils/imatrix-fuzz-targets.js";

const dir = suiteTempDir("moeq-imatrix-fuzz-");

describe("imatrix fuzzing", () => {
  it.each([
    [IMATRIX_GGUF_TARGET, 0x1a7c],
    [IMATRIX_DAT_TARGET, 0xda7],
  ])(
    "$name: every mutated file is read or refused with a typed one-line error",
    async (target, seed) => {
      const report = await runFuzz(target, { cases: fuzzCases(400), seed, dir: dir.path });
      console.log(formatFuzzReport(report));
      expect(report.failures).toEqual([]);
      expect(report.peakRss).toBeLessThan(2 ** 31); // the whole worker's peak, hostile lengths included
      expect(report.parsed).toBeGreaterThan(0);
      expect(report.refusedByCode.size).toBeGreaterThan(2);
    },
    600_000,
  );
});
