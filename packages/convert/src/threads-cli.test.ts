import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";

// Worker threads run the compiled dist/quantize-worker.js, so this test drives the built CLI.
const root = fileURLToPath(new URL("../../..", import.meta.url));
const moeq = (...args: string[]): string =>
  execFileSync(process.execPath, [join(root, "packages/cli/bin/moeq.js"), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Exit status and stderr of a moeq run that must fail (a run that succeeds fails the test). */
function moeqFailure(...args: string[]): { code: number; stderr: string } {
  try {
    moeq(...args);
  } catch (e) {
    return { code: (e as { status: number }).status, stderr: String((e as { stderr: string }).stderr) };
  }
  throw new Error(`moeq ${args.join(" ")} succeeded; expected it to fail`);
}

let tmp: string;
beforeAll(() => {
  execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: root, stdio: "inherit" });
  tmp = mkdtempSync(join(tmpdir(), "moeq-threads-"));
  writeSyntheticLlama4(join(tmp, "ckpt"), { layout: "scout", hidden: 256, ffExpert: 256, layers: 2, experts: 4, headDim: 64, seed: 11 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("worker threads", () => {
  it("convert and quantize write identical bytes with --threads 1 and --threads 3; --json reports sizes", () => {
    const ck = join(tmp, "ckpt");
    moeq("convert", ck, "-o", join(tmp, "a.gguf"), "--outtype", "q4_0", "--threads", "1", "--json");
    const js = JSON.parse(moeq("convert", ck, "-o", join(tmp, "b.gguf"), "--outtype", "q4_0", "--threads", "3", "--json")) as {
      outputBytes: number;
      bitsPerWeight: number;
    };
    expect(readFileSync(join(tmp, "a.gguf")).equals(readFileSync(join(tmp, "b.gguf")))).toBe(true);
    expect(js.bitsPerWeight).toBeGreaterThan(4);
    expect(js.bitsPerWeight).toBeLessThan(7);
    // convert --outtype q4_0 == convert f16 + quantize Q4_0
    moeq("convert", ck, "-o", join(tmp, "f16.gguf"), "--outtype", "f16");
    moeq("quantize", join(tmp, "f16.gguf"), join(tmp, "c.gguf"), "Q4_0", "--threads", "3");
    expect(readFileSync(join(tmp, "c.gguf")).equals(readFileSync(join(tmp, "a.gguf")))).toBe(true);
  });

  it("--expert-errors: the same rows with --threads 1 and --threads 3 (convert and quantize); --json names the file", () => {
    const ck = join(tmp, "ckpt");
    const e1 = join(tmp, "e1.json");
    const e3 = join(tmp, "e3.json");
    moeq("convert", ck, "-o", join(tmp, "d1.gguf"), "--outtype", "q4_k_m", "--threads", "1", "--expert-errors", e1);
    moeq("convert", ck, "-o", join(tmp, "d3.gguf"), "--outtype", "q4_k_m", "--threads", "3", "--expert-errors", e3);
    const rows = JSON.parse(readFileSync(e1, "utf8")) as { layer: number; expert: number; tensor: string; rmse: number }[];
    expect(rows.filter((r) => r.tensor === "ffn_up_exps").length).toBe(2 * 4);
    expect(readFileSync(e3, "utf8")).toBe(readFileSync(e1, "utf8"));
    moeq("convert", ck, "-o", join(tmp, "f16b.gguf"), "--outtype", "f16");
    moeq("quantize", join(tmp, "f16b.gguf"), join(tmp, "q1.gguf"), "Q3_K_M", "--threads", "1", "--expert-errors", e1);
    const js = JSON.parse(moeq("quantize", join(tmp, "f16b.gguf"), join(tmp, "q3.gguf"), "Q3_K_M", "--threads", "3", "--expert-errors", e3, "--json")) as {
      expertErrors: { file: string; rows: number };
    };
    expect(readFileSync(e3, "utf8")).toBe(readFileSync(e1, "utf8"));
    expect(js.expertErrors).toEqual({ file: e3, rows: (JSON.parse(readFileSync(e3, "utf8")) as unknown[]).length });
  });

  it("bad input exits 2 with a message naming the file", () => {
    let r = moeqFailure("quantize", join(tmp, "missing.gguf"), join(tmp, "x.gguf"), "Q4_K_M");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing.gguf");
    r = moeqFailure("quantize", join(tmp, "f16.gguf"), join(tmp, "x.gguf"), "Q9_Z");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Q9_Z");
    // a very-low-bit type without an imatrix: refused as llama-quantize refuses it, nothing written
    r = moeqFailure("quantize", join(tmp, "f16.gguf"), join(tmp, "iq.gguf"), "IQ2_XXS");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("this quantization requires an imatrix! (offending tensor: blk.0.");
    expect(existsSync(join(tmp, "iq.gguf"))).toBe(false);
  });
});
