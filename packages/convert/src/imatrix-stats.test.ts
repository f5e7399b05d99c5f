// The accumulator's llama-imatrix rules that the llama.cpp parity test (imatrix-vs-llama.test.ts) does not reach
// with real text: dense rows in ubatches under 16 skipped, expert counts broadcast from an older single-count file,
// equal per-expert counts of a dense tensor collapsed, legacy .dat inputs scaled by the chunk size.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImatrixStats } from "./imatrix-stats.js";
import { denseRowRanges, planImatrixChunks } from "./imatrix-collect.js";
import { readImatrixRaw, type RawImatrix } from "./imatrix.js";

const raw = (legacy: boolean, entries: [string, number[], number[]][], chunkSize = 64): RawImatrix => ({
  entries: new Map(entries.map(([n, sums, counts]) => [n, { sums: Float32Array.from(sums), counts }])),
  datasets: ["d.txt"],
  chunkCount: 1,
  chunkSize,
  legacy,
});

describe("ImatrixStats", () => {
  it("Σx² in f32 per column, one count per dense tensor, one per expert for expert tensors", async () => {
    const s = new ImatrixStats(4);
    s.addDense("blk.0.attn_q.weight", Float32Array.from([1, 2, 3, 4]), 2, 2);
    s.addExpert("blk.0.ffn_up_exps.weight", 3, 1, Float32Array.from([1, 1, 2, 2]), 2, 2);
    expect([...s.stats.get("blk.0.attn_q.weight")!.values]).toEqual([10, 20]);
    expect(s.stats.get("blk.0.attn_q.weight")!.counts).toEqual([2]);
    const e = s.stats.get("blk.0.ffn_up_exps.weight")!;
    expect([...e.values]).toEqual([0, 0, 5, 5, 0, 0]);
    expect(e.counts).toEqual([0, 2, 0]);
    const path = join(mkdtempSync(join(tmpdir(), "moeq-imstats-")), "i.gguf");
    await s.writeGguf(path, "cal.txt");
    const back = await readImatrixRaw(path);
    expect(back.entries.get("blk.0.ffn_up_exps.weight")!.counts).toEqual([0, 2, 0]);
    expect(back.datasets).toEqual(["cal.txt"]);
    expect(back.chunkSize).toBe(4);
  });
  it("load: GGUF sums/counts added; a single count broadcast to the experts; legacy mean·ncall × chunk size", () => {
    const s = new ImatrixStats(64);
    s.load(raw(false, [["blk.0.ffn_up_exps.weight", [1, 1, 2, 2], [5]]]), "a.gguf");
    s.addExpert("blk.0.ffn_up_exps.weight", 2, 0, Float32Array.from([1, 1]), 1, 2);
    expect(s.stats.get("blk.0.ffn_up_exps.weight")!.counts).toEqual([6, 5]);
    s.load(raw(true, [["blk.0.attn_q.weight", [0.5, 0.25], [2]]]), "b.dat");
    expect([...s.stats.get("blk.0.attn_q.weight")!.values]).toEqual([32, 16]);
    expect(s.stats.get("blk.0.attn_q.weight")!.counts).toEqual([128]);
    expect(s.loadedDatasets).toEqual(["d.txt", "d.txt"]);
    expect(s.lastChunk).toBe(2);
    expect(() => s.load(raw(false, [["blk.0.attn_q.weight", [1, 2, 3], [1]]]), "c.gguf")).toThrow(/c\.gguf: mismatched sums size for blk\.0\.attn_q\.weight/);
  });
  it("a dense tensor loaded with equal per-expert counts collapses to one count", () => {
    const s = new ImatrixStats(64);
    s.load(raw(false, [["blk.0.attn_q.weight", [1, 1], [3, 3]]]), "a.gguf");
    s.addDense("blk.0.attn_q.weight", Float32Array.from([1, 1]), 1, 2);
    expect(s.stats.get("blk.0.attn_q.weight")!.counts).toEqual([4]);
  });
});

describe("chunking and the <16-row rule", () => {
  it("dense rows: whole chunk when several chunks share a batch; ubatches of 512 (≥ 16 rows) otherwise", () => {
    expect(denseRowRanges(256)).toEqual([[0, 256]]);
    expect(denseRowRanges(2048)).toEqual([
      [0, 512],
      [512, 1024],
      [1024, 1536],
      [1536, 2048],
    ]);
    expect(denseRowRanges(1034)).toEqual([
      [0, 512],
      [512, 1024],
    ]); // the 10-row tail ubatch is not collected
  });
  it("chunk offset, at least two chunks, --chunks capped by the text", () => {
    const tokens = Array.from({ length: 1000 }, (_, i) => i);
    expect(planImatrixChunks(tokens, 7, { nCtx: 100, file: "t" }).nChunks).toBe(10);
    const p = planImatrixChunks(tokens, 7, { nCtx: 100, chunkOffset: 3, nChunks: 50, file: "t" });
    expect([p.tokens[0], p.nChunks]).toEqual([300, 7]);
    expect(() => planImatrixChunks(tokens, 7, { nCtx: 100, chunkOffset: 8, file: "t" })).toThrow(/t: not enough tokens left after removing 8 chunks/);
    expect(() => planImatrixChunks(tokens.slice(0, 150), 7, { nCtx: 100, file: "t" })).toThrow(/only 150 tokens; a context of 100 needs at least 200/);
  });
});
