import { describe, expect, it } from "vitest";
import { InputError, MAX_MESSAGE_CHARS, oneLine } from "./errors.js";

describe("error messages are one safe line", () => {
  it("escapes control characters, DEL, C1 and line separators", () => {
    expect(oneLine("a\nb\r\x1b[31m\x00\x7f\x9b\u2028")).toBe("a\\x0ab\\x0d\\x1b[31m\\x00\\x7f\\x9b\\u2028");
  });

  it("cuts a long text in the middle, keeping head and tail and saying how much was cut", () => {
    const long = "H".repeat(500) + "x".repeat(100_000) + "T".repeat(500);
    const s = oneLine(long);
    expect(s.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS + 20);
    expect(s).toMatch(/^H+…\[\d+ chars cut\]…T+$/);
    expect(Number(/\[(\d+) chars cut\]/.exec(s)![1]) + s.replace(/…\[\d+ chars cut\]…/, "").length).toBe(long.length);
  });

  it("applies to every MoeqError's message and file name", () => {
    const e = new InputError("BAD", `tensor "${"k".repeat(10_000)}\n" is bad`, { file: "a\nb.gguf" });
    expect(e.message.split("\n")).toHaveLength(1);
    expect(e.message.startsWith("a\\x0ab.gguf: tensor")).toBe(true);
    expect(e.message.length).toBeLessThan(2 * MAX_MESSAGE_CHARS);
    expect(e.file).toBe("a\nb.gguf"); // the raw path stays available to code
  });
});
