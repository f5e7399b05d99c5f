// `moeq recipe` vs llama.cpp's file-type mixtures at equal size on the fixture: for IQ2_XXS, Q2_K, Q3_K_M and Q4_K_M,
// `moeq quantize` (byte-identical to llama-quantize) with an imatrix from the calibration split gives the size; `moeq
// recipe --size <that size>` chooses a mixture from costs measured on the calibration split (brown-validation); both
// files are scored on the test split (brown-test, n_ctx 256) against the BF16 GGUF, by the moeq runtime and by
// llama.cpp's own logits (koffi on the bundled libllama) through the same llama-perplexity arithmetic.
//   npx vitest run --config scripts/recipe-quality.vitest.config.ts
// Environment: MOEQ_RECIPE_CHUNKS (test chunks, default 16), MOEQ_RECIPE_CALIB_CHUNKS (measuring chunks, default 4),
// MOEQ_RECIPE_TYPES (candidate types, default the CLI's imatrix ladder), MOEQ_RECIPE_OUT (also write the Markdown there).
import { it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GGMLType, GGUFValueType, GGUFWriter, ggmlNDimsShape, openGguf } from "@moeq/formats";
import { ggufNumber } from "@moeq/convert";
// internals the table's own imatrix builder uses (it predates `moeq imatrix`; the README table was measured with it)
import { calibrationWindows } from "../packages/convert/src/calibration.js";
import { kvArr, kvStr, kvU32 } from "../packages/convert/src/gguf-kv.js";
import { loadModel } from "@moeq/runtime";
import { klDivergence, openEvalModel, perplexity, type EvalModel } from "@moeq/eval";
import { openLlamaLogits } from "@moeq/test-support/llama-perplexity";
import { runMoeq } from "../packages/cli/src/test-utils/run-moeq.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const env = process.env;

/**
 * llama-imatrix's statistics from the moeq runtime's activation taps: Σx² per input column of each weight (per expert
 * for the routed experts) and the rows seen, written in llama-imatrix's GGUF format.
 */
async function writeCalibrationImatrix(model: string, data: string, path: string, maxWindows: number): Promise<void> {
  const g = await openGguf(model);
  const nExpert = ggufNumber(g, "llama4.expert_count") ?? 0;
  await g.close();
  const m = await loadModel(model);
  const acc = new Map<string, { sums: Float64Array; counts: Float64Array; nCols: number }>();
  m.setTap((ev) => {
    const nMat = ev.expert === undefined ? 1 : nExpert;
    let e = acc.get(ev.tensor);
    if (!e) acc.set(ev.tensor, (e = { sums: new Float64Array(ev.nCols * nMat), counts: new Float64Array(nMat), nCols: ev.nCols }));
    const off = (ev.expert ?? 0) * ev.nCols;
    for (let r = 0; r < ev.nRows; r++) for (let c = 0; c < ev.nCols; c++) e.sums[off + c] += ev.rows[r * ev.nCols + c] ** 2;
    e.counts[ev.expert ?? 0] += ev.nRows;
  });
  const windows = calibrationWindows(m, data, { ctx: 256, maxWindows });
  for (const w of windows) await m.logits(w);
  m.setTap(null);
  await m.close();
  const names = [...acc.keys()].sort();
  const w = new GGUFWriter(path);
  w.setKV("general.type", kvStr("imatrix"));
  w.setKV("imatrix.datasets", kvArr(GGUFValueType.STRING, ["brown-validation.txt"]));
  w.setKV("imatrix.chunk_count", kvU32(windows.length));
  w.setKV("imatrix.chunk_size", kvU32(256));
  for (const n of names) {
    const e = acc.get(n)!;
    w.addTensor(`${n}.in_sum2`, ggmlNDimsShape([e.nCols, e.counts.length]), GGMLType.F32);
    w.addTensor(`${n}.counts`, ggmlNDimsShape([1, e.counts.length]), GGMLType.F32);
  }
  await w.writeHeader();
  for (const n of names) {
    const e = acc.get(n)!;
    await w.writeTensorData(`${n}.in_sum2`, new Uint8Array(Float32Array.from(e.sums).buffer));
    await w.writeTensorData(`${n}.counts`, new Uint8Array(Float32Array.from(e.counts).buffer));
  }
  await w.finish();
}

async function moeq(...args: string[]): Promise<string> {
  const r = await runMoeq(args);
  if (r.code !== 0) throw new Error(`moeq ${args.join(" ")} → ${r.code}: ${r.err.slice(-2000)}`);
  return r.out;
}

async function meanKld(model: EvalModel, base: string, chunks: number): Promise<number> {
  try {
    return (await klDivergence(model, base, { chunks })).kldMean.value;
  } finally {
    await model.close();
  }
}

it("recipe vs llama.cpp mixtures at equal size", async () => {
  const fixture = join(root, "fixtures/tiny-llama4");
  const test = join(root, "fixtures/data/brown-test.txt");
  const calib = join(root, "fixtures/data/brown-validation.txt");
  const ctx = 256;
  const chunks = Number(env.MOEQ_RECIPE_CHUNKS ?? 16);
  const calibChunks = Number(env.MOEQ_RECIPE_CALIB_CHUNKS ?? 4);
  const tmp = mkdtempSync(join(tmpdir(), "moeq-recipe-quality-"));
  const f = (n: string) => join(tmp, n);
  try {
    await moeq("convert", fixture, "-o", f("bf16.gguf"), "--outtype", "bf16");
    await writeCalibrationImatrix(f("bf16.gguf"), calib, f("imatrix.gguf"), 16);
    const text = readFileSync(test, "utf8");
    const base = await openEvalModel(f("bf16.gguf"), { engine: "moeq" });
    await perplexity(base, text, { ctx, chunks, saveKldBase: f("base.kld") }).finally(() => base.close());
    const lbase = openLlamaLogits(f("bf16.gguf"), ctx);
    await perplexity(lbase, text, { ctx, chunks, saveKldBase: f("llama-base.kld") }).finally(() => lbase.close());
    const score = async (gguf: string) => ({
      moeq: await meanKld(await openEvalModel(gguf, { engine: "moeq" }), f("base.kld"), chunks),
      llama: await meanKld(openLlamaLogits(gguf, ctx), f("llama-base.kld"), chunks),
    });

    const rows: string[] = [];
    for (const ft of ["IQ2_XXS", "Q2_K", "Q3_K_M", "Q4_K_M"]) {
      const mix = f(`${ft}.gguf`);
      await moeq("quantize", f("bf16.gguf"), mix, ft, "--imatrix", f("imatrix.gguf"), "--json");
      const size = statSync(mix).size;
      const recipe = f(`${ft}.recipe.txt`);
      const out = f(`${ft}.recipe.gguf`);
      const args = [
        "recipe",
        f("bf16.gguf"),
        "-o",
        recipe,
        "--size",
        String(size),
        "--data",
        calib,
        "--imatrix",
        f("imatrix.gguf"),
        "--ctx",
        String(ctx),
        "--chunks",
        String(calibChunks),
        "--costs",
        f("costs.json"),
        "--gguf",
        out,
        "--threads",
        "2",
        "--json",
      ];
      if (env.MOEQ_RECIPE_TYPES) args.push("--types", env.MOEQ_RECIPE_TYPES);
      const rep = JSON.parse(await moeq(...args));
      const rsize = statSync(out).size;
      const a = await score(mix);
      const b = await score(out);
      rows.push(
        `| ${ft} | ${size} | ${rsize} (${((rsize / size - 1) * 100).toFixed(2)} %) | ${a.moeq.toFixed(5)} / ${a.llama.toFixed(5)} | ${b.moeq.toFixed(5)} / ${b.llama.toFixed(5)} | ${rep.predictedKld.toFixed(5)} / ${rep.measuredKld.toFixed(5)} | ${(b.moeq / a.moeq).toFixed(3)} / ${(b.llama / a.llama).toFixed(3)} |`,
      );
      process.stderr.write(rows[rows.length - 1] + "\n");
    }
    const md = [
      `Fixture test split (brown-test, ${chunks} chunks × ${ctx}) vs the BF16 GGUF; recipe costs from ${calibChunks} calibration chunks (brown-validation); imatrix from 16 calibration windows.`,
      "",
      "| llama.cpp type | its bytes | recipe bytes | mean KLD llama.cpp mix (moeq / llama.cpp) | mean KLD recipe (moeq / llama.cpp) | recipe predicted / measured (calib) | recipe ÷ mix (moeq / llama.cpp) |",
      "|---|---|---|---|---|---|---|",
      ...rows,
    ].join("\n");
    process.stdout.write(md + "\n");
    if (env.MOEQ_RECIPE_OUT) writeFileSync(env.MOEQ_RECIPE_OUT, md + "\n");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
