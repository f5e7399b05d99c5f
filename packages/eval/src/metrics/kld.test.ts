import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@moeq/formats";
import { fakeCorpus, fakeModel } from "@moeq/test-support/fake-model";
import { perplexity, tokenizeCorpus } from "./perplexity.js";
import { klDivergence } from "./kld.js";
import { KldFileReader, KldFileWriter, kldFileBytes, kldRowsPerChunk } from "./kld-file.js";
import { accumulateKldToken, decodeLogProb, encodeLogProbRow, KldSums, kldRowWords } from "./log-softmax.js";

const dir = mkdtempSync(join(tmpdir(), "moeq-kld-"));

function logSoftmax(row: ArrayLike<number>): number[] {
  const a = Array.from(row);
  const m = Math.max(...a);
  const lse = m + Math.log(a.reduce((s, x) => s + Math.exp(x - m), 0));
  return a.map((x) => x - lse);
}

describe(".kld row encoding (llama.cpp's 16-bit log-probs)", () => {
  it("decodes back to the log-softmax within half a quantization step, and clamps below max − 16", () => {
    const logits = Float32Array.of(3, -1, 0.5, -20, 2.25);
    const row = new Uint16Array(kldRowWords(5));
    expect(row.length).toBe(10); // 2·ceil(5/2) + 4
    const nll = encodeLogProbRow(logits, 0, 5, 2, row, 0);
    const ls = logSoftmax(logits);
    expect(nll).toBeCloseTo(-ls[2], 5);
    const step = 16 / 65535; // max − min is clamped to 16 here
    for (const i of [0, 1, 2, 4]) expect(Math.abs(decodeLogProb(row, 0, i) - ls[i])).toBeLessThan(step);
    expect(row[4 + 3]).toBe(0); // −20 is below max − 16: stored as the floor
    expect(decodeLogProb(row, 0, 3)).toBeCloseTo(ls[0] - 16, 4);
    expect(row[4 + 0]).toBe(65535);
  });
  it("stores an all-zero row when every logit is equal (scale 0)", () => {
    const row = new Uint16Array(kldRowWords(4)).fill(7);
    encodeLogProbRow(Float32Array.of(1, 1, 1, 1), 0, 4, 0, row, 0);
    expect(Array.from(row.subarray(4))).toEqual([0, 0, 0, 0]);
    expect(decodeLogProb(row, 0, 2)).toBeCloseTo(-Math.log(4), 6);
  });
});

describe("per-token KLD", () => {
  it("matches KL(base‖Q) computed directly from the decoded base log-probs (reimplementation)", () => {
    const V = 50;
    const base = Float32Array.from({ length: V }, (_, i) => Math.sin(i * 1.3) * 3);
    const q = Float32Array.from(base, (x, i) => x + 0.2 * Math.cos(i * 0.7));
    const row = new Uint16Array(kldRowWords(V));
    encodeLogProbRow(base, 0, V, 4, row, 0);
    const sums = new KldSums();
    const r = accumulateKldToken(q, 0, V, row, 0, 4, sums);
    const lq = logSoftmax(q);
    let ref = 0;
    for (let i = 0; i < V; i++) {
      const lb = decodeLogProb(row, 0, i);
      if (lb > -16) ref += Math.exp(lb) * (lb - lq[i]);
    }
    expect(r.kld).toBeCloseTo(ref, 5);
    // and against the exact (unquantized) KLD within the 16-bit storage noise
    const lb = logSoftmax(base);
    const exact = lb.reduce((s, l, i) => s + Math.exp(l) * (l - lq[i]), 0);
    expect(Math.abs(r.kld - exact)).toBeLessThan(2e-3);
    expect(r.pDiff).toBeCloseTo(Math.exp(lq[4]) - Math.exp(lb[4]), 3);
    const argmax = (a: ArrayLike<number>) => Array.from(a).indexOf(Math.max(...Array.from(a)));
    expect(sums.nSameTop).toBe(argmax(base) === argmax(q) ? 1 : 0);
  });
  it("is ~0 with same top and zero Δp when Q equals the base", () => {
    const V = 20;
    const base = Float32Array.from({ length: V }, (_, i) => (i * 37) % 11);
    const row = new Uint16Array(kldRowWords(V));
    encodeLogProbRow(base, 0, V, 3, row, 0);
    const sums = new KldSums();
    const r = accumulateKldToken(base, 0, V, row, 0, 3, sums);
    expect(Math.abs(r.kld)).toBeLessThan(1e-4); // only the 16-bit storage noise of the base row
    expect(Math.abs(r.pDiff)).toBeLessThan(1e-4);
    expect(sums.nSameTop).toBe(1);
  });
});

describe(".kld file", () => {
  it("round-trips: header, tokens and rows as written by the PPL pass; size follows llama.cpp's layout", async () => {
    const base = fakeModel({ seed: 5 });
    const path = join(dir, "base.kld");
    const text = fakeCorpus(1200);
    const ppl = await perplexity(base, text, { ctx: 32, chunks: 6, saveKldBase: path });
    expect(statSync(path).size).toBe(kldFileBytes(32, base.vocabSize, 6));
    const bytes = readFileSync(path);
    expect(bytes.toString("latin1", 0, 8)).toBe("_logits_");
    expect(bytes.readInt32LE(8)).toBe(32);
    expect(bytes.readInt32LE(12)).toBe(base.vocabSize);
    expect(bytes.readInt32LE(16)).toBe(6);
    const r = KldFileReader.open(path);
    const toks = tokenizeCorpus(base, text);
    expect(Array.from(r.header.tokens)).toEqual(toks.slice(0, 32 * 6)); // original tokens, BOS not written over
    const rows = r.readChunk(2);
    expect(rows.length).toBe(kldRowsPerChunk(32) * kldRowWords(base.vocabSize));
    const inp = toks.slice(64, 96);
    inp[0] = 0;
    const lg = await base.logits(inp);
    const ls = logSoftmax(lg.subarray(16 * base.vocabSize, 17 * base.vocabSize));
    for (let v = 0; v < base.vocabSize; v++) expect(decodeLogProb(rows, 0, v)).toBeCloseTo(Math.max(ls[v], Math.max(...ls) - 16), 3);
    r.close();
    expect(ppl.nChunk).toBe(6);
    // writing the same rows through the writer reproduces the file byte for byte
    const copy = join(dir, "copy.kld");
    const r2 = KldFileReader.open(path);
    const w = KldFileWriter.create(copy, 32, base.vocabSize, 6, r2.header.tokens);
    for (let c = 0; c < 6; c++) w.writeChunk(r2.readChunk(c));
    w.close();
    r2.close();
    expect(readFileSync(copy).equals(bytes)).toBe(true);
  });

  it("rejects bad magic, truncation and a vocabulary mismatch with InputError naming the file", async () => {
    const bad = join(dir, "bad.kld");
    writeFileSync(bad, Buffer.from("_notlog_" + "\0".repeat(40), "latin1"));
    expect(() => KldFileReader.open(bad)).toThrow(/bad\.kld.*_logits_/);
    const good = join(dir, "good.kld");
    const base = fakeModel({ seed: 5 });
    await perplexity(base, fakeCorpus(600), { ctx: 16, chunks: 2, saveKldBase: good });
    const cut = join(dir, "cut.kld");
    writeFileSync(cut, readFileSync(good).subarray(0, 500));
    expect(() => KldFileReader.open(cut)).toThrow(InputError);
    const other = fakeModel({ alphabet: "abc" });
    await expect(klDivergence(other, good)).rejects.toThrow(/n_vocab/);
  });

  it("leaves no file behind when the writer is aborted", () => {
    const p = join(dir, "aborted.kld");
    const w = KldFileWriter.create(p, 8, 4, 2, new Array(16).fill(1));
    w.abort();
    expect(() => statSync(p)).toThrow();
  });
});

describe("klDivergence", () => {
  it("reports llama-perplexity's statistics; a noisier copy has larger KLD and lower top-1 agreement", async () => {
    const base = fakeModel({ seed: 11 });
    const path = join(dir, "b11.kld");
    const basePpl = await perplexity(base, fakeCorpus(3000), { ctx: 64, saveKldBase: path });
    const same = await klDivergence(fakeModel({ seed: 11 }), path);
    expect(same.tokensScored).toBe(basePpl.tokensScored);
    expect(same.enoughTokens).toBe(true);
    expect(Math.abs(same.kldMean.value)).toBeLessThan(1e-5);
    expect(same.sameTopP.value).toBe(1);
    expect(same.pplRatio.value).toBeCloseTo(1, 4);
    expect(same.pplBase.value / basePpl.ppl).toBeCloseTo(1, 3);

    const q1 = await klDivergence(fakeModel({ seed: 11, noise: 0.3 }), path);
    const q2 = await klDivergence(fakeModel({ seed: 11, noise: 1.5 }), path);
    expect(q1.kldMean.value).toBeGreaterThan(0);
    expect(q2.kldMean.value).toBeGreaterThan(q1.kldMean.value);
    expect(q2.sameTopP.value).toBeLessThan(q1.sameTopP.value);
    expect(q1.kld.p99).toBeGreaterThanOrEqual(q1.kld.p90);
    expect(q1.kld.max).toBeGreaterThanOrEqual(q1.kld.p99_9);
    expect(q1.kld.min).toBeLessThanOrEqual(q1.kld.p0_1);
    expect(q1.lnPplRatio.value).toBeCloseTo(Math.log(q1.pplRatio.value), 10);
    expect(q1.kldHistogram.counts.reduce((a, b) => a + b, 0)).toBe(q1.tokensScored);
  });

  it("agrees with a direct double-precision reimplementation on fake logits", async () => {
    const base = fakeModel({ seed: 2 });
    const q = fakeModel({ seed: 2, noise: 0.8 });
    const path = join(dir, "b2.kld");
    await perplexity(base, fakeCorpus(1500), { ctx: 32, saveKldBase: path });
    const ours = await klDivergence(q, path);
    const reader = KldFileReader.open(path);
    const { nCtx, nChunk, tokens } = reader.header;
    const V = base.vocabSize;
    const klds: number[] = [];
    let same = 0;
    for (let c = 0; c < nChunk; c++) {
      const inp = Array.from(tokens.subarray(c * nCtx, (c + 1) * nCtx));
      inp[0] = 0;
      const lb = await base.logits(inp);
      const lq = await q.logits(inp);
      for (let j = nCtx / 2; j < nCtx - 1; j++) {
        const pb = logSoftmax(lb.subarray(j * V, (j + 1) * V));
        const pq = logSoftmax(lq.subarray(j * V, (j + 1) * V));
        klds.push(pb.reduce((s, l, i) => s + Math.exp(l) * (l - pq[i]), 0));
        if (pb.indexOf(Math.max(...pb)) === pq.indexOf(Math.max(...pq))) same++;
      }
    }
    reader.close();
    const mean = klds.reduce((a, b) => a + b, 0) / klds.length;
    expect(ours.tokensScored).toBe(klds.length);
    expect(Math.abs(ours.kldMean.value - mean) / mean).toBeLessThan(2e-3);
    expect(ours.sameTopP.value).toBeCloseTo(same / klds.length, 2);
  });
});
