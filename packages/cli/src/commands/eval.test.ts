// End to end through the CLI: a synthetic Scout-layout checkpoint is converted and quantized by moeq, then
// scored by both engines — the bundled runtime must reproduce llama.cpp's perplexity and KLD on the same files.
// (4 layers: llama.cpp aborts on a 2-layer llama4 GGUF with "tensor buffer not set".)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../index.js";
import { writeSyntheticLlama4 } from "../../../../test-support/synthetic-llama4.js";

async function moeq(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

async function json(...args: string[]) {
  const r = await moeq(...args);
  if (r.code !== 0) throw new Error(`moeq ${args.join(" ")} → ${r.code}: ${r.err}`);
  return JSON.parse(r.out);
}

const dir = mkdtempSync(join(tmpdir(), "moeq-e2e-"));
const f = (n: string) => join(dir, n);
const corpus = "the quick brown fox jumps over the lazy dog while the cat sat on the mat. ".repeat(40);

beforeAll(async () => {
  writeSyntheticLlama4(f("ckpt"), { layout: "maverick", multimodal: false, hidden: 256, ffExpert: 256, ffDense: 512, layers: 4, experts: 4, seed: 11 });
  writeFileSync(f("corpus.txt"), corpus);
  for (const args of [
    ["convert", f("ckpt"), "-o", f("f16.gguf"), "--outtype", "f16"],
    ["quantize", f("f16.gguf"), f("q4_k_m.gguf"), "Q4_K_M"],
  ]) {
    const r = await moeq(...args);
    if (r.code !== 0) throw new Error(`moeq ${args[0]} failed: ${r.err}`);
  }
}, 300_000);

describe("moeq eval: runtime vs llama.cpp on the same GGUF", () => {
  it("Q4_K_M perplexity and KLD agree within 0.5 %", async () => {
    const common = ["--data", f("corpus.txt"), "--ctx", "64", "--chunks", "3", "--threads", "2", "--json"];
    // base logits from llama.cpp on the f16 file, reused by both engines
    await json("eval", f("f16.gguf"), "--task", "ppl", "--engine", "llama.cpp", "--kld-base", f("base.kld"), ...common);
    const pplCpp = (await json("eval", f("q4_k_m.gguf"), "--task", "ppl", "--engine", "llama.cpp", ...common)).results.ppl;
    const pplMoeq = (await json("eval", f("q4_k_m.gguf"), "--task", "ppl", "--engine", "moeq", ...common)).results.ppl;
    expect(pplMoeq.tokensScored).toBe(pplCpp.tokensScored);
    expect(Math.abs(pplMoeq.ppl / pplCpp.ppl - 1)).toBeLessThan(0.005);
    const kCpp = (await json("eval", f("q4_k_m.gguf"), "--task", "kld", "--engine", "llama.cpp", "--base", f("base.kld"), ...common)).results.kld;
    const kMoeq = (await json("eval", f("q4_k_m.gguf"), "--task", "kld", "--engine", "moeq", "--base", f("base.kld"), ...common)).results.kld;
    expect(Math.abs(kMoeq.pplQ.value / kCpp.pplQ.value - 1)).toBeLessThan(0.005);
    // KLD of a random model is small (~0.005): allow 0.5 % plus 2e-5 nats of cross-engine float noise
    expect(Math.abs(kMoeq.kldMean.value - kCpp.kldMean.value)).toBeLessThan(0.005 * kCpp.kldMean.value + 2e-5);
    expect(Math.abs(kMoeq.sameTopP.value - kCpp.sameTopP.value)).toBeLessThan(0.02);
    process.stderr.write(JSON.stringify({ pplCpp: pplCpp.ppl, pplMoeq: pplMoeq.ppl, kldCpp: kCpp.kldMean.value, kldMoeq: kMoeq.kldMean.value, topCpp: kCpp.sameTopP.value, topMoeq: kMoeq.sameTopP.value }) + "\n");
  }, 300_000);
});
