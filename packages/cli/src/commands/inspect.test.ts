import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { moeq } from "../test-utils/run-moeq.js";

const samples = fileURLToPath(new URL("../../../../fixtures/samples/", import.meta.url));

describe("moeq inspect", () => {
  it("prints a human table for a GGUF", async () => {
    const r = await moeq("inspect", join(samples, "tiny-llama4.gguf"));
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^architecture\s+llama4$/m);
    expect(r.out).toMatch(/^tensors\s+5$/m);
    expect(r.out).toMatch(/^Q8_0\s+1\s+2\.0K\s+2\.13 KiB$/m);
    expect(r.out).toMatch(/^tokenizer\.ggml\.tokens\s+ARRAY\[STRING\]\s+\[STRING × 24\]$/m);
  });

  it("--json prints the report for a sharded HF directory", async () => {
    const r = await moeq("inspect", join(samples, "tiny-hf"), "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ format: "safetensors", modelType: "llama4", textModelType: "llama4_text", tensorCount: 7 });
    expect(report.files).toHaveLength(3);
  });

  it("--tensors lists every tensor with its stored shape", async () => {
    const r = await moeq("inspect", join(samples, "tiny-llama4.gguf"), "--tensors");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^blk\.0\.ffn_gate_exps\.weight\s+\[32, 32, 2\]\s+Q8_0\s+2\.13 KiB$/m);
  });

  it("bad input: exit 2 with one line on stderr", async () => {
    const r = await moeq("inspect", join(samples, "make-samples.ts"));
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/make-samples\.ts: neither a GGUF file/);
  });
});
