// Perplexity by file type, measured with llama.cpp's own forward pass (koffi on the bundled libllama) and
// llama-perplexity's arithmetic (@moeq/eval) on fixtures/data/brown-test.txt:
// `moeq convert <model> --outtype f16`, then `moeq quantize` to every file type.
//   npx vitest run --config scripts/ppl-table.vitest.config.ts
// Environment: MOEQ_PPL_MODEL (default fixtures/tiny-llama4), MOEQ_PPL_CTX (default: reference.json's n_ctx, else 512),
// MOEQ_PPL_CHUNKS (default all), MOEQ_PPL_FTYPES (comma list), MOEQ_PPL_OUT (also write the Markdown table there).
import { it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { perplexity } from "@moeq/eval";
import { convertHfToGguf, quantizeGguf, parseFType } from "@moeq/convert";
import { openLlamaLogits } from "@moeq/test-support/llama-perplexity";

const root = fileURLToPath(new URL("..", import.meta.url));
const env = process.env;

it("perplexity by file type", async () => {
  const model = resolve(env.MOEQ_PPL_MODEL ?? join(root, "fixtures/tiny-llama4"));
  const textFile = join(root, "fixtures/data/brown-test.txt");
  const refFile = join(model, "reference/reference.json");
  const ref = existsSync(refFile) ? (JSON.parse(readFileSync(refFile, "utf8")) as { perplexity?: { ppl: number; n_ctx: number } }).perplexity : undefined;
  const ctx = Number(env.MOEQ_PPL_CTX ?? ref?.n_ctx ?? 512);
  const chunks = env.MOEQ_PPL_CHUNKS ? Number(env.MOEQ_PPL_CHUNKS) : undefined;
  const ftypes = (env.MOEQ_PPL_FTYPES ?? "F16,BF16,Q8_0,Q6_K,Q5_K_M,Q5_K_S,Q5_1,Q5_0,Q4_K_M,Q4_K_S,Q4_1,Q4_0,Q3_K_L,Q3_K_M,Q3_K_S,Q2_K").split(",");
  const text = readFileSync(textFile, "utf8");
  const tmp = mkdtempSync(join(tmpdir(), "moeq-ppl-table-"));
  try {
    const f16 = join(tmp, "F16.gguf");
    const conv = await convertHfToGguf(model, f16, { outtype: parseFType("F16") });
    const rows: { name: string; mib: number; bpw: number; ppl: number; pm: number; nChunk: number }[] = [];
    for (const name of ftypes) {
      let file = f16;
      let bytes = conv.outputBytes;
      let bpw = conv.bitsPerWeight;
      if (name !== "F16") {
        file = join(tmp, `${name}.gguf`);
        const s = await quantizeGguf(f16, file, { ftype: parseFType(name) });
        bytes = s.outputBytes;
        bpw = s.bitsPerWeight;
      }
      const m = openLlamaLogits(file, ctx);
      try {
        const r = await perplexity(m, text, { ctx, chunks });
        rows.push({ name, mib: bytes / 2 ** 20, bpw, ppl: r.ppl, pm: r.pplStderr, nChunk: r.nChunk });
        process.stderr.write(`${name}: PPL ${r.ppl.toFixed(4)} ± ${r.pplStderr.toFixed(4)}\n`);
      } finally {
        await m.close();
      }
      if (file !== f16) rmSync(file);
    }
    const base = rows.find((r) => r.name === "F16")?.ppl;
    const lines = [
      `Perplexity of ${relative(root, model)} on ${relative(root, textFile)}: llama.cpp (bundled libllama, CPU), ctx ${ctx}, ${rows[0]?.nChunk} chunks` +
        (ref ? `; reference.json (PyTorch, BF16 weights): ${ref.ppl.toFixed(4)}` : ""),
      "",
      "| file type | tensor data (MiB) | bits/weight | PPL | ± | vs F16 |",
      "|---|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.mib.toFixed(2)} | ${r.bpw.toFixed(2)} | ${r.ppl.toFixed(4)} | ${r.pm.toFixed(4)} | ${base ? `${(((r.ppl - base) / base) * 100).toFixed(2)} %` : ""} |`,
      ),
    ];
    console.log(lines.join("\n"));
    if (env.MOEQ_PPL_OUT) writeFileSync(env.MOEQ_PPL_OUT, lines.join("\n") + "\n");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
