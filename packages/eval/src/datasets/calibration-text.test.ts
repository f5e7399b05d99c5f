import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCalibrationText } from "./calibration-text.js";

const MMLU = fileURLToPath(new URL("../../../../fixtures/data/mmlu-mini/test.parquet", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "moeq-calib-"));

describe("readCalibrationText", () => {
  it("plain text as is; .jsonl rows' field joined by a blank line", async () => {
    const txt = join(tmp, "a.txt");
    writeFileSync(txt, "one\ntwo\n");
    expect(await readCalibrationText(txt)).toBe("one\ntwo\n");
    const jsonl = join(tmp, "a.jsonl");
    writeFileSync(jsonl, '{"text":"first"}\n{"text":"second","x":1}\n');
    expect(await readCalibrationText(jsonl)).toBe("first\n\nsecond");
    writeFileSync(jsonl, '{"body":"first"}\n');
    expect(await readCalibrationText(jsonl, { field: "body" })).toBe("first");
    await expect(readCalibrationText(jsonl)).rejects.toThrow(/a\.jsonl: row 0: field "text" must be a string/);
  });
  it(".parquet: one column of every row", async () => {
    const text = await readCalibrationText(MMLU, { column: "question" });
    expect(text.split("\n\n").length).toBeGreaterThan(100);
    await expect(readCalibrationText(MMLU)).rejects.toThrow(/test\.parquet/);
  });
});
