// The moeq runtime against llama.cpp itself (libllama of node-llama-cpp 3.21.1, CPU, through koffi) on GGUFs of the
// trained tiny fixture made by our converter: next-token distributions over Brown test chunks (mean KL, top-1
// agreement) and tokenization. Lives in @moeq/convert because it needs the converter (runtime must not import it).
//
// Why `use_extra_bufts = false` (llama.cpp's own `--no-repack` switch): by default llama.cpp's CPU backend moves
// k-quant/Q4_0/Q8_0 weights into "extra" buffer types — repacked interleaved layouts (and AMX tiles where the CPU
// has them) whose int8 kernels use their own accumulation order. Those layouts are CPU-specific, so a bit-level
// comparison against them would pin one machine's kernel. With extra buffer types off, llama.cpp runs the standard
// `ggml_vec_dot_*` kernels (and llamafile's tinyBLAS) of the libggml-cpu variant it loads, and that is the path the
// runtime's `ggmlNumerics: "exact"` mode reproduces bit for bit. Flash attention is off (llama.cpp's `-fa off`): the
// runtime mirrors the soft_max + two-matmul attention with the f16 KV cache. The numbers against llama.cpp's
// defaults (repack on) are printed for information.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LlamaModel } from "node-llama-cpp";
import { loadModel, logSoftmax, type Llama4Model } from "@moeq/runtime";
import { convertHfToGguf } from "./convert-hf.js";
import { LlamaFType } from "./ftype.js";
import { loadLlamaCppModel, llamaCppTokenize } from "@moeq/test-support/llama-run";
import { openLlamaLogits, type LlamaLogitsOptions } from "@moeq/test-support/llama-perplexity";

const FIXTURE_DIR = fileURLToPath(new URL("../../../fixtures/tiny-llama4", import.meta.url));
const TEST_SPLIT = join(FIXTURE_DIR, "..", "data", "brown-test.txt");
const CHUNK = 256;
// 4 × 256 keeps the file near a minute on two busy cores ("exact" numerics run scalar JS kernels);
// MOEQ_PARITY_CHUNKS=8 was measured too (README).
const N_CHUNKS = Number(process.env.MOEQ_PARITY_CHUNKS ?? 4);
const FILE_TYPES = [
  ["F16", LlamaFType.MOSTLY_F16],
  ["Q8_0", LlamaFType.MOSTLY_Q8_0],
  ["Q4_K_M", LlamaFType.MOSTLY_Q4_K_M],
  ["Q2_K", LlamaFType.MOSTLY_Q2_K],
] as const;
const ONLY = process.env.MOEQ_PARITY_TYPES?.split(",");

let dir: string;
const ggufs = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "moeq-parity-"));
  for (const [name, ftype] of FILE_TYPES) {
    if (ONLY && !ONLY.includes(name) && name !== "F16") continue;
    const out = join(dir, `tiny-llama4-${name}.gguf`);
    await convertHfToGguf(FIXTURE_DIR, out, { outtype: ftype, threads: 2 });
    ggufs.set(name, out);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Chunks as llama-perplexity forms them: CHUNK tokens of the test split, the first replaced by BOS. */
function chunks(m: Llama4Model): number[][] {
  const ids = m.tokenize(readFileSync(TEST_SPLIT, "utf8"), { parseSpecial: false });
  const out: number[][] = [];
  for (let c = 0; c < N_CHUNKS; c++) {
    const chunk = ids.slice(c * CHUNK, (c + 1) * CHUNK);
    chunk[0] = m.bosId!;
    out.push(chunk);
  }
  return out;
}

interface Agreement {
  meanKl: number;
  top1: number;
  n: number;
  /** Positions whose logits rows are bit-identical. */
  identical: number;
}

/** Running KL(llama.cpp ‖ ours) and top-1 agreement over positions. */
class AgreementSum {
  private kl = 0;
  private same = 0;
  private n = 0;
  private identical = 0;
  add(ref: Float32Array, ours: Float32Array, positions: number, V: number): void {
    for (let t = 0; t < positions; t++) {
      let equal = true;
      for (let i = 0; i < V && equal; i++) equal = ref[t * V + i] === ours[t * V + i];
      if (equal) this.identical++;
      const lp = logSoftmax(ref, t * V, V);
      const lq = logSoftmax(ours, t * V, V);
      let k = 0;
      let am = 0;
      let bm = 0;
      for (let i = 0; i < V; i++) {
        const p = Math.exp(lp[i]);
        if (p > 0) k += p * (lp[i] - lq[i]);
        if (lp[i] > lp[am]) am = i;
        if (lq[i] > lq[bm]) bm = i;
      }
      this.kl += k;
      if (am === bm) this.same++;
      this.n++;
    }
  }
  result(): Agreement {
    return { meanKl: this.kl / this.n, top1: this.same / this.n, n: this.n, identical: this.identical };
  }
}

/** File types whose every kernel the "exact" numerics emulates bit for bit (all of them, F16's expert matmuls included). */
const BIT_EXACT = new Set(["F16", "Q8_0", "Q4_K_M", "Q2_K"]);

describe("next-token distributions vs llama.cpp on the same GGUF (standard CPU kernels, --no-repack)", () => {
  for (const [name] of FILE_TYPES) {
    if (ONLY && !ONLY.includes(name)) continue;
    const exactClaim = BIT_EXACT.has(name) ? "every logit row bit-identical" : "mean KL ≤ 1e-4 and top-1 ≥ 99.5 %";
    it(`${name}: "exact" numerics ${exactClaim}; default numerics mean KL ≤ 1e-4 and top-1 ≥ 99.5 %, over ${N_CHUNKS}×${CHUNK} Brown test tokens`, async () => {
      const path = ggufs.get(name)!;
      const exact = await loadModel(path, { ggmlNumerics: "exact", threads: 1 });
      const fast = await loadModel(path);
      const noRepack: LlamaLogitsOptions = { useExtraBufts: false, flashAttnType: 0 };
      const portable = openLlamaLogits(path, CHUNK, 2, noRepack);
      const repacked = openLlamaLogits(path, CHUNK, 2, { flashAttnType: 0 });
      const V = exact.vocabSize;
      const vsPortable = new AgreementSum();
      const fastVsPortable = new AgreementSum();
      const vsDefault = new AgreementSum();
      try {
        for (const chunk of chunks(exact)) {
          const logits = await exact.logits(chunk);
          const ref = await portable.logits(chunk);
          vsPortable.add(ref, logits, chunk.length, V);
          fastVsPortable.add(ref, await fast.logits(chunk), chunk.length, V);
          vsDefault.add(await repacked.logits(chunk), logits, chunk.length, V);
        }
      } finally {
        await portable.close();
        await repacked.close();
        await exact.close();
        await fast.close();
      }
      const a = vsPortable.result();
      const q = fastVsPortable.result();
      const d = vsDefault.result();
      console.log(
        `${name} "exact" vs llama.cpp --no-repack: mean KL ${a.meanKl.toExponential(3)}, top-1 ${(100 * a.top1).toFixed(2)} % over ${a.n} positions, ${a.identical} bit-identical`,
      );
      console.log(`${name} default numerics vs llama.cpp --no-repack: mean KL ${q.meanKl.toExponential(3)}, top-1 ${(100 * q.top1).toFixed(2)} %`);
      console.log(
        `${name} "exact" vs llama.cpp defaults (repack on, for information): mean KL ${d.meanKl.toExponential(3)}, top-1 ${(100 * d.top1).toFixed(2)} %`,
      );
      if (BIT_EXACT.has(name)) expect(a.identical).toBe(a.n);
      expect(a.meanKl).toBeLessThanOrEqual(1e-4);
      expect(a.top1).toBeGreaterThanOrEqual(0.995);
      expect(q.meanKl).toBeLessThanOrEqual(1e-4);
      expect(q.top1).toBeGreaterThanOrEqual(0.995);
    });
  }
});
describe("tokenization vs llama.cpp", () => {
  let ours: Llama4Model;
  let fromGguf: Llama4Model;
  let theirs: LlamaModel;
  beforeAll(async () => {
    ours = await loadModel(FIXTURE_DIR);
    fromGguf = await loadModel(ggufs.get("F16")!);
    theirs = await loadLlamaCppModel(ggufs.get("F16")!);
  });
  afterAll(async () => {
    await theirs.dispose();
    await ours.close();
    await fromGguf.close();
  });

  it("matches on the whole Brown test split, from tokenizer.json and from the GGUF vocab", () => {
    const text = readFileSync(TEST_SPLIT, "utf8");
    const ref = llamaCppTokenize(theirs, text, false);
    expect(ref.length).toBeGreaterThan(10_000);
    expect(ours.tokenize(text, { parseSpecial: false })).toEqual(ref);
    expect(fromGguf.tokenize(text, { parseSpecial: false })).toEqual(ref);
  });

  const tricky = [
    "Hello  world\n\n\tfoo   bar",
    "12345678 3.14159 1,000,000 2024-11-29",
    "naïve café 日本語 Ελληνικά 😀🎉 emoji",
    "   leading and trailing   ",
    "don't I'LL we've THEY'RE",
    "a\r\nb\rc\n\n\n",
    "\u00a0nbsp\u2003em\u200bzero-width",
    "<|begin_of_text|>x<|eot|>y<|header_start|>user<|header_end|>",
    "<|image|><|patch|><|patch|>",
  ];
  for (const s of tricky) {
    it(`matches on ${JSON.stringify(s)} with and without special-token parsing`, () => {
      for (const special of [false, true]) {
        const ref = llamaCppTokenize(theirs, s, special);
        expect(ours.tokenize(s, { parseSpecial: special })).toEqual(ref);
        expect(fromGguf.tokenize(s, { parseSpecial: special })).toEqual(ref);
      }
    });
  }

  it("agrees on BOS and round-trips text through detokenize", () => {
    expect(ours.bosId).toBe(theirs.tokens.bos);
    expect(fromGguf.bosId).toBe(theirs.tokens.bos);
    const s = "The jury said it did find that many of Georgia's registration laws are outmoded.";
    expect(ours.detokenize(ours.tokenize(s))).toBe(s);
  });
});
