#!/usr/bin/env node
// Perplexity by file type, measured by llama.cpp itself (node-llama-cpp) on fixtures/data/brown-test.txt:
// `moeq convert <model> --outtype f16`, then `moeq quantize` to each file type, then llama-perplexity's
// computation (@moeq/eval) on every output. Prints a Markdown table on stdout.
// Needs `npx tsc -b packages/cli` first.
// Usage: node scripts/ppl-table.mjs [--model fixtures/tiny-llama4] [--text fixtures/data/brown-test.txt] [--ctx 512] [--chunks N]
//        [--ftypes F16,Q8_0,...] [--threads N]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { convertHfToGguf, quantizeGguf, parseFType } = await import(join(root, "packages/convert/dist/index.js"));
const { openEvalModel, perplexity } = await import(join(root, "packages/eval/dist/index.js"));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const model = resolve(opt("model", join(root, "fixtures/tiny-llama4")));
const textFile = resolve(opt("text", join(root, "fixtures/data/brown-test.txt")));
const ctx = Number(opt("ctx", "512"));
const chunks = opt("chunks") === undefined ? undefined : Number(opt("chunks"));
const threads = Number(opt("threads", "1"));
const ftypes = opt("ftypes", "F32,F16,BF16,Q8_0,Q6_K,Q5_K_M,Q5_K_S,Q5_1,Q5_0,Q4_K_M,Q4_K_S,Q4_1,Q4_0,Q3_K_L,Q3_K_M,Q3_K_S,Q2_K").split(",");
const text = readFileSync(textFile, "utf8");

const tmp = mkdtempSync(join(tmpdir(), "moeq-ppl-table-"));
try {
  const f16 = join(tmp, "F16.gguf");
  const conv = await convertHfToGguf(model, f16, { outtype: parseFType("F16"), threads });
  const rows = [];
  let basePpl;
  for (const name of ftypes) {
    const out = name === "F16" ? f16 : join(tmp, `${name}.gguf`);
    let bytes = conv.outputBytes;
    let bpw = conv.bitsPerWeight;
    if (name !== "F16") {
      const s = await quantizeGguf(f16, out, { ftype: parseFType(name), threads });
      bytes = s.outputBytes;
      bpw = s.bitsPerWeight;
    }
    const m = await openEvalModel(out, { engine: "llama.cpp" });
    try {
      const r = await perplexity(m, text, { ctx, chunks, file: textFile });
      if (name === "F16") basePpl = r.ppl;
      rows.push({ name, bytes, bpw, ppl: r.ppl, pplStderr: r.pplStderr, chunks: r.nChunk });
      process.stderr.write(`${name}: PPL ${r.ppl.toFixed(4)} ± ${r.pplStderr.toFixed(4)}\n`);
    } finally {
      await m.close();
    }
  }
  console.log(`Perplexity of ${model.replace(root, "")} on ${textFile.replace(root, "")} (llama.cpp via node-llama-cpp, ctx ${ctx}, ${rows[0]?.chunks} chunks)\n`);
  console.log("| file type | tensor data (MiB) | bits/weight | PPL | ± | vs F16 |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const rel = basePpl ? `${(((r.ppl - basePpl) / basePpl) * 100).toFixed(2)} %` : "";
    console.log(`| ${r.name} | ${(r.bytes / 2 ** 20).toFixed(2)} | ${r.bpw.toFixed(2)} | ${r.ppl.toFixed(4)} | ${r.pplStderr.toFixed(4)} | ${rel} |`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
