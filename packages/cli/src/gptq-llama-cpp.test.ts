// `moeq gptq` output checked by a second reader: fixtures/tools/gptq_dequant.py (numpy, written from the GPTQ v1
// specification) turns the GPTQ folder back into a BF16 checkpoint, `moeq convert` makes it an F16 GGUF, and
// llama.cpp's perplexity of that GGUF must equal our runtime's perplexity on the GPTQ folder itself within 0.1 %.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaFType, convertHfToGguf } from "@moeq/convert";
import { openEvalModel, perplexity } from "@moeq/eval";
import { openLlamaLogits } from "@moeq/test-support/llama-perplexity";
import { runMoeq } from "./test-utils/run-moeq.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const FIXTURE = join(root, "fixtures/tiny-llama4");
const BROWN_TEST = readFileSync(join(root, "fixtures/data/brown-test.txt"), "utf8");
const CTX = 256;
const CHUNKS = 24;

let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-gptq-llama-"));
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("moeq gptq → independent dequantizer → llama.cpp", () => {
  it("llama.cpp's perplexity of the dequantized model equals ours on the GPTQ folder within 0.1 %", { timeout: 600_000 }, async () => {
    const gptq = join(tmp, "gptq");
    const r = await runMoeq([
      "gptq",
      FIXTURE,
      "-o",
      gptq,
      "--data",
      join(root, "fixtures/data/brown-validation.txt"),
      "--nsamples",
      "8",
      "--seqlen",
      "128",
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ output: gptq, resumedLayers: 0, rtnFallbacks: [] });

    const bf16 = join(tmp, "bf16");
    const py = spawnSync("/usr/bin/python3", [join(root, "fixtures/tools/gptq_dequant.py"), gptq, bf16], { encoding: "utf8" });
    expect(py.status, py.stderr).toBe(0);
    const gguf = join(tmp, "dequant-f16.gguf");
    await convertHfToGguf(bf16, gguf, { outtype: LlamaFType.MOSTLY_F16 });

    const llama = openLlamaLogits(gguf, CTX);
    let theirs;
    try {
      theirs = await perplexity(llama, BROWN_TEST, { ctx: CTX, chunks: CHUNKS });
    } finally {
      await llama.close();
    }
    const moeq = await openEvalModel(gptq, { engine: "moeq" });
    let ours;
    try {
      ours = await perplexity(moeq, BROWN_TEST, { ctx: CTX, chunks: CHUNKS });
    } finally {
      await moeq.close();
    }
    console.log(
      `PPL over ${CHUNKS} chunks of ${CTX}: moeq runtime on the GPTQ folder ${ours.ppl.toFixed(4)}, llama.cpp on the dequantized F16 GGUF ${theirs.ppl.toFixed(4)}`,
    );
    expect(Math.abs(ours.ppl - theirs.ppl) / theirs.ppl).toBeLessThan(0.001);
  });
});
