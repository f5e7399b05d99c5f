// `moeq imatrix` against llama.cpp's own llama-imatrix (built from node-llama-cpp's bundled source by
// test-support/build-llama-tools.sh), on the same GGUF, the same text and the same options:
// - every tensor and every expert slice: identical counts, in_sum2 equal within 1e-5 relative per element
//   (|ours − ref| ≤ 1e-5·|ref|, what is measured is printed) and in fact bit-identical, identical datasets / chunk_count /
//   chunk_size, byte-identical files;
// - a file written by moeq, handed as a file to llama.cpp's llama-quantize --imatrix and to moeq quantize
//   --imatrix, gives byte-identical GGUFs for all 16 file types.
// Both collectors run llama.cpp's portable CPU kernels: llama-imatrix with --no-repack and -fa off, moeq with
// --exact (the runtime's bit-exact ggml numerics; see runtime-parity.test.ts for why --no-repack).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertHfToGguf } from "./convert-hf.js";
import { FTYPE_BY_NAME, LlamaFType } from "./ftype.js";
import { readImatrixRaw, type RawImatrix } from "./imatrix.js";
import { runImatrix } from "./imatrix-run.js";
import { quantizeGguf } from "./quantize-gguf.js";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { llamaToolsBin, runLlamaTool } from "@moeq/test-support/llama-tools";

const FIXTURE_DIR = fileURLToPath(new URL("../../../fixtures/tiny-llama4", import.meta.url));
const CALIBRATION = fileURLToPath(new URL("../../../fixtures/data/brown-calibration.txt", import.meta.url));
const SIXTEEN = ["F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0", "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q2_K"];

let tmp: string;
let text: string;
const models = new Map<string, string>();

beforeAll(async () => {
  llamaToolsBin(); // builds the reference tools once (cached by commit)
  tmp = mkdtempSync(join(tmpdir(), "moeq-imatrix-"));
  text = join(tmp, "calibration.txt");
  // 10 kB of the calibration split: enough for 3 chunks of 64 tokens and more
  writeFileSync(text, readFileSync(CALIBRATION, "utf8").slice(0, 10_000));
  for (const [name, ftype] of [
    ["fixture-F16", LlamaFType.MOSTLY_F16],
    ["fixture-Q8_0", LlamaFType.MOSTLY_Q8_0],
  ] as const) {
    const out = join(tmp, `${name}.gguf`);
    await convertHfToGguf(FIXTURE_DIR, out, { outtype: ftype });
    models.set(name, out);
  }
  for (const layout of ["scout", "maverick"] as const) {
    const dir = join(tmp, layout);
    // 4 layers: llama.cpp aborts on a Llama 4 whose layers all use RoPE (its attention-temperature input is then unused)
    writeSyntheticLlama4(dir, { layout, seed: 7, multimodal: false, layers: 4 });
    const out = join(tmp, `${layout}.gguf`);
    await convertHfToGguf(dir, out, { outtype: LlamaFType.MOSTLY_Q8_0 });
    models.set(layout, out);
  }
}, 3_600_000); // a clean clone without .ci/run's prebuild compiles the tools here (minutes)
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Compared {
  tensors: number;
  slices: number;
  maxRel: number;
  identical: boolean;
}

/** Counts must be identical; in_sum2 per element within `tol` relative, per expert slice. */
function compare(ours: RawImatrix, ref: RawImatrix, tol: number): Compared {
  expect([...ours.entries.keys()]).toEqual([...ref.entries.keys()]);
  expect(ours.datasets).toEqual(ref.datasets);
  expect(ours.chunkCount).toBe(ref.chunkCount);
  expect(ours.chunkSize).toBe(ref.chunkSize);
  let maxRel = 0;
  let slices = 0;
  let identical = true;
  for (const [name, r] of ref.entries) {
    const o = ours.entries.get(name)!;
    expect(o.counts, `${name} counts`).toEqual(r.counts);
    expect(o.sums.length, `${name} size`).toBe(r.sums.length);
    const ne0 = r.sums.length / r.counts.length;
    for (let s = 0; s < r.counts.length; s++) {
      slices++;
      for (let i = s * ne0; i < (s + 1) * ne0; i++) {
        const d = Math.abs(o.sums[i] - r.sums[i]);
        if (d !== 0) identical = false;
        const rel = r.sums[i] === 0 ? (d === 0 ? 0 : Infinity) : d / Math.abs(r.sums[i]);
        if (rel > maxRel) maxRel = rel;
        if (rel > tol) expect.fail(`${name} slice ${s} element ${i - s * ne0}: ours ${o.sums[i]} vs llama-imatrix ${r.sums[i]} (relative ${rel})`);
      }
    }
  }
  return { tensors: ref.entries.size, slices, maxRel, identical };
}

// The runtime's --exact numerics run llama.cpp's CPU kernels bit for bit, the F16 ones included (MUL_MAT's tinyBLAS for the
// dense F16 matmuls, MUL_MAT_ID's ggml_vec_dot_f16 for the routed experts: runtime ops/ggml-matmul.ts), so beyond the
// issue's 1e-5 relative bar every case must come out with bit-identical sums and a byte-identical file.
const CASES: { model: string; args: string[]; tol: number; moeq: { nCtx: number; nChunks: number; chunkOffset?: number; processOutput?: boolean } }[] = [
  { model: "fixture-Q8_0", args: ["-c", "64", "--chunks", "3", "--chunk", "1"], tol: 1e-5, moeq: { nCtx: 64, nChunks: 3, chunkOffset: 1 } },
  { model: "fixture-F16", args: ["-c", "64", "--chunks", "3", "--process-output"], tol: 1e-5, moeq: { nCtx: 64, nChunks: 3, processOutput: true } },
  { model: "scout", args: ["-c", "64", "--chunks", "3"], tol: 1e-5, moeq: { nCtx: 64, nChunks: 3 } },
  { model: "maverick", args: ["-c", "64", "--chunks", "3", "--process-output"], tol: 1e-5, moeq: { nCtx: 64, nChunks: 3, processOutput: true } },
];

describe("moeq imatrix == llama-imatrix (same GGUF, text and options)", () => {
  for (const c of CASES) {
    it(`${c.model} ${c.args.join(" ")}: identical counts, in_sum2 bit-identical (bar: ${c.tol} relative) for every expert slice, byte-identical file`, async () => {
      const model = models.get(c.model)!;
      const ref = join(tmp, `ref-${c.model}.gguf`);
      const ours = join(tmp, `ours-${c.model}.gguf`);
      runLlamaTool("llama-imatrix", ["-m", model, "-f", text, "-o", ref, ...c.args, "--no-ppl", "-nr", "-fa", "off", "-t", "2"]);
      await runImatrix({ model, text: readFileSync(text, "utf8"), dataFile: text, output: ours, exact: true, ...c.moeq });
      const r = compare(await readImatrixRaw(ours), await readImatrixRaw(ref), c.tol);
      const bytes = Buffer.compare(readFileSync(ours), readFileSync(ref)) === 0;
      console.log(
        `${c.model}: ${r.tensors} tensors, ${r.slices} slices, max relative in_sum2 difference ${r.maxRel.toExponential(2)}, sums bit-identical ${r.identical}, files byte-identical ${bytes}`,
      );
      expect(r.identical, "in_sum2 bit-identical").toBe(true);
      expect(bytes, "files byte-identical").toBe(true);
    });
  }
});

describe("--in-file combining == llama-imatrix's (GGUF and legacy .dat inputs, no text)", () => {
  it("byte-identical combined files", async () => {
    const f16 = models.get("fixture-F16")!;
    const a = join(tmp, "ours-fixture-F16.gguf");
    const b = join(tmp, "ours-fixture-Q8_0.gguf");
    // a legacy .dat written by llama.cpp itself from one of our files
    const dat = join(tmp, "b.dat");
    // (llama-imatrix wants -m even when it only combines files; it does not load the model then)
    runLlamaTool("llama-imatrix", ["-m", f16, "--in-file", b, "--output-format", "dat", "-c", "64", "-o", dat]);
    for (const inputs of [
      [a, b],
      [dat, a],
    ]) {
      const ref = join(tmp, "combined-ref.gguf");
      const ours = join(tmp, "combined-ours.gguf");
      runLlamaTool("llama-imatrix", ["-m", f16, ...inputs.flatMap((f) => ["--in-file", f]), "-c", "64", "-o", ref]);
      await runImatrix({ model: f16, text: undefined, dataFile: undefined, inFiles: inputs, output: ours, nCtx: 64 });
      expect(Buffer.compare(readFileSync(ours), readFileSync(ref)), inputs.join(" + ")).toBe(0);
    }
  });
});

describe("a moeq imatrix file, as a file: llama-quantize --imatrix == moeq quantize --imatrix", () => {
  it("all 16 file types byte-identical (and convert --imatrix == convert f16 + quantize --imatrix)", async () => {
    const f16 = models.get("fixture-F16")!;
    const im = join(tmp, "moeq-imatrix.gguf");
    await runImatrix({ model: f16, text: readFileSync(text, "utf8"), dataFile: text, output: im, nCtx: 64, nChunks: 4 });
    for (const type of SIXTEEN) {
      const ref = join(tmp, `ref-${type}.gguf`);
      const ours = join(tmp, `ours-${type}.gguf`);
      runLlamaTool("llama-quantize", ["--imatrix", im, f16, ref, type, "2"]);
      await quantizeGguf(f16, ours, { ftype: FTYPE_BY_NAME[type], imatrixPath: im, threads: 2 });
      expect(Buffer.compare(readFileSync(ours), readFileSync(ref)), type).toBe(0);
      if (type === "Q4_K_M" || type === "Q2_K") {
        // convert --outtype <type> --imatrix F writes what convert f16 + quantize --imatrix F writes
        const direct = join(tmp, `direct-${type}.gguf`);
        await convertHfToGguf(FIXTURE_DIR, direct, { outtype: FTYPE_BY_NAME[type], imatrixPath: im });
        expect(Buffer.compare(readFileSync(direct), readFileSync(ours)), `convert --outtype ${type} --imatrix`).toBe(0);
        rmSync(direct);
      }
      rmSync(ref);
      rmSync(ours);
    }
  });
});
