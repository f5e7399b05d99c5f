// End to end through the CLI: a synthetic Scout-layout checkpoint is converted and quantized by moeq, then
// scored by both engines — the bundled runtime must reproduce llama.cpp's perplexity and KLD on the same files.
// (4 layers: llama.cpp aborts on a 2-layer llama4 GGUF with "tensor buffer not set".)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync, statSync, writeFileSync } from "node:fs";
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
    ["quantize", f("f16.gguf"), f("q8_0.gguf"), "Q8_0"],
    ["quantize", f("f16.gguf"), f("q2_k.gguf"), "Q2_K"],
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

describe("moeq gate on real quantizations (moeq runtime)", () => {
  it("Q8_0 passes and Q2_K fails the same gate; the report plots quality vs size", async () => {
    const gate = f("gate.yml");
    writeFileSync(
      gate,
      `tasks:
  kld: { data: corpus.txt, ctx: 64, chunks: 3 }
gates:
  - { metric: kld_mean, op: "<=", threshold: 0.002 }
  - { metric: same_top_p, op: ">=", threshold: 0.9 }
`,
    );
    // base.kld written by the first test when run together; make sure it exists on its own too
    await json("eval", f("f16.gguf"), "--task", "ppl", "--engine", "llama.cpp", "--kld-base", f("base-gate.kld"), "--data", f("corpus.txt"), "--ctx", "64", "--chunks", "3", "--threads", "2", "--json");
    const sweep: { label: string; sizeBytes: number; kldMean: number }[] = [];
    const codes: Record<string, number> = {};
    for (const q of ["q8_0", "q4_k_m", "q2_k"]) {
      const r = await moeq("gate", f(`${q}.gguf`), "--gate", gate, "--base", f("base-gate.kld"), "--engine", "moeq", "--json");
      codes[q] = r.code;
      const rep = JSON.parse(r.out);
      sweep.push({ label: q.toUpperCase(), sizeBytes: statSync(f(`${q}.gguf`)).size, kldMean: rep.metrics.kld_mean });
    }
    process.stderr.write(JSON.stringify(sweep) + "\n");
    expect(codes.q8_0).toBe(0);
    expect(codes.q2_k).toBe(1);
    expect(sweep[0].kldMean).toBeLessThan(sweep[1].kldMean);
    expect(sweep[1].kldMean).toBeLessThan(sweep[2].kldMean);
    writeFileSync(f("sweep.json"), JSON.stringify(sweep));
    const r = await moeq("gate", f("q8_0.gguf"), "--gate", gate, "--base", f("base-gate.kld"), "--engine", "moeq", "--sweep", f("sweep.json"), "--report", f("report"));
    expect(r.code).toBe(0);
    const html = readFileSync(f("report/report.html"), "utf8");
    expect(html).toMatch(/id="plot-quality-size"[^>]*data-points="3"/);
    expect(html).toContain('data-label="Q2_K"');
  }, 120_000);
});
