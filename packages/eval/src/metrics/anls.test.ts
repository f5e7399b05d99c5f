import { describe, expect, it } from "vitest";
import { anlsScore, levenshtein, normalizeAnswer } from "./anls.js";

describe("ANLS (lmms-eval)", () => {
  it("normalises case and whitespace like Python's ' '.join(s.strip().lower().split())", () => {
    expect(normalizeAnswer("  Total\t Amount \n")).toBe("total amount");
    expect(anlsScore("  $12.50 ", ["$12.50"])).toBe(1);
    expect(anlsScore("TOTAL   amount", ["total amount"])).toBe(1);
  });
  it("computes 1 − NL with the raw lengths as denominator (hand-computed)", () => {
    // "invoice" vs "invoce": distance 1, longer raw length 7 → 1 − 1/7
    expect(anlsScore("invoce", ["invoice"])).toBeCloseTo(1 - 1 / 7, 12);
    // raw-length quirk: surrounding spaces count in the denominator but not in the distance
    expect(anlsScore("  invoce  ", ["invoice"])).toBeCloseTo(1 - 1 / 10, 12);
  });
  it("zeroes scores below the 0.5 threshold but keeps exactly 0.5", () => {
    expect(anlsScore("abcd", ["wxyz"])).toBe(0);
    expect(anlsScore("ab", ["abcd"])).toBe(0.5); // distance 2 / length 4
    expect(anlsScore("a", ["abcd"])).toBe(0); // 1 − 3/4 < 0.5
  });
  it("takes the best of several gold answers", () => {
    expect(anlsScore("1999", ["nineteen ninety-nine", "1999"])).toBe(1);
    expect(anlsScore("10 may", ["May 10", "10 May 2001", "10 may"])).toBe(1);
    expect(anlsScore("10 ma", ["xx", "10 may"])).toBeCloseTo(1 - 1 / 6, 12);
  });
  it("handles empty answers: empty vs empty is a match, empty vs text scores 0", () => {
    expect(anlsScore("", [""])).toBe(1);
    expect(anlsScore("", ["abc"])).toBe(0);
    expect(anlsScore("abc", [])).toBe(0);
  });
  it("the paper variant uses normalised lengths", () => {
    expect(anlsScore("  invoce  ", ["invoice"], { variant: "paper" })).toBeCloseTo(1 - 1 / 7, 12);
    expect(anlsScore("ab", ["abcd"], { variant: "paper" })).toBe(0); // NL = 0.5 is not < τ
  });
  it("counts code points, not UTF-16 units", () => {
    expect(levenshtein("a😀b", "ab")).toBe(1);
    expect(levenshtein("kitten", "sitting")).toBe(3);
  });
});
