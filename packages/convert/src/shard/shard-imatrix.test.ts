// `moeq imatrix --shard i/N` + `moeq merge`: the merged imatrix is byte-identical to the unsharded run with
// per-chunk sums for N = 1, 2, 3, 7 (with and without --in-file), and its sums and counts are what
// llama-imatrix --in-file gives for the per-chunk files in chunk order (moeq's combine, byte-identical to
// llama-imatrix's in imatrix-vs-llama.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertHfToGguf } from "../convert-hf.js";
import { LlamaFType } from "../ftype.js";
import { readImatrixRaw } from "../imatrix.js";
import { runImatrix, type ImatrixRunOptions } from "../imatrix-run.js";
import { mergeShards } from "./merge.js";
import { readShardManifest, readUnit, shardFilePath } from "./shard-file.js";

const FIXTURE_DIR = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const CALIBRATION = fileURLToPath(new URL("../../../../fixtures/data/brown-calibration.txt", import.meta.url));

let tmp: string;
let base: ImatrixRunOptions;
let earlier: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-shard-imatrix-"));
  const model = join(tmp, "tiny-f16.gguf");
  await convertHfToGguf(FIXTURE_DIR, model, { outtype: LlamaFType.MOSTLY_F16 });
  const data = join(tmp, "cal.txt");
  writeFileSync(data, readFileSync(CALIBRATION, "utf8").slice(0, 12_000));
  base = { model, text: readFileSync(data, "utf8"), dataFile: data, output: "", nCtx: 32, nChunks: 7 };
  earlier = join(tmp, "earlier.gguf");
  await runImatrix({ ...base, output: earlier, nChunks: 2, chunkOffset: 7 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const shardsOf = (out: string, n: number): string[] => Array.from({ length: n }, (_, i) => shardFilePath(out, { index: i + 1, count: n }));

async function sharded(out: string, n: number, extra: Partial<ImatrixRunOptions>): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const s = await runImatrix({ ...base, ...extra, output: out, shard: { index: i, count: n } });
    expect(s.shardFile).toBe(shardsOf(out, n)[i - 1]);
    expect(s.chunks).toBe([...Array(7).keys()].filter((c) => c % n === i - 1).length);
  }
  expect(existsSync(out)).toBe(false);
  await mergeShards(shardsOf(out, n).reverse(), out);
}

describe("moeq imatrix --shard i/N + merge", () => {
  it.each([1, 2, 3, 7])("%i shards merge byte-identical to the unsharded per-chunk-sums run", async (n) => {
    const whole = join(tmp, "whole.gguf");
    if (!existsSync(whole)) await runImatrix({ ...base, output: whole, perChunkSums: true });
    const out = join(tmp, `sharded-${n}.gguf`);
    await sharded(out, n, {});
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
  });

  it("with --in-file: 3 shards merge byte-identical; the sums are llama-imatrix --in-file of the per-chunk files", async () => {
    const whole = join(tmp, "whole-in.gguf");
    await runImatrix({ ...base, output: whole, perChunkSums: true, inFiles: [earlier] });
    const out = join(tmp, "sharded-in.gguf");
    await sharded(out, 3, { inFiles: [earlier] });
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);

    // every unit but the run record is an imatrix GGUF; --in-file-combining them in order gives the merged sums
    const units: { at: number; file: string }[] = [];
    for (const path of shardsOf(out, 3)) {
      const fh = await open(path, "r");
      try {
        for (const u of (await readShardManifest(path)).units) {
          if (u.id === "run") continue;
          const file = join(tmp, `unit-${u.at}.gguf`);
          writeFileSync(file, await readUnit(fh, path, u));
          units.push({ at: u.at, file });
        }
      } finally {
        await fh.close();
      }
    }
    expect(units).toHaveLength(8); // in-files + 7 chunks
    const combined = join(tmp, "combined.gguf");
    await runImatrix({
      model: base.model,
      text: undefined,
      dataFile: undefined,
      output: combined,
      nCtx: 32,
      inFiles: units.sort((a, b) => a.at - b.at).map((u) => u.file),
    });
    const a = await readImatrixRaw(combined);
    const b = await readImatrixRaw(out);
    expect(a.chunkCount).toBe(b.chunkCount);
    expect([...a.entries.keys()]).toEqual([...b.entries.keys()]);
    for (const [name, e] of b.entries) {
      expect(a.entries.get(name)!.counts, name).toEqual(e.counts);
      expect(Buffer.from(a.entries.get(name)!.sums.buffer).equals(Buffer.from(e.sums.buffer)), name).toBe(true);
    }
  });

  it("--per-chunk-sums differs from llama-imatrix's running sum only in the last bits; a shard holds one imatrix per chunk", async () => {
    const whole = join(tmp, "whole.gguf");
    if (!existsSync(whole)) await runImatrix({ ...base, output: whole, perChunkSums: true });
    const running = join(tmp, "running.gguf");
    await runImatrix({ ...base, output: running });
    const a = await readImatrixRaw(whole);
    const b = await readImatrixRaw(running);
    let maxRel = 0;
    let differing = 0;
    let total = 0;
    for (const [name, e] of b.entries) {
      const o = a.entries.get(name)!;
      expect(o.counts, name).toEqual(e.counts);
      e.sums.forEach((v, i) => {
        total++;
        if (o.sums[i] !== v) differing++;
        maxRel = Math.max(maxRel, v === 0 ? 0 : Math.abs(o.sums[i] - v) / v);
      });
    }
    const shard = shardsOf(join(tmp, "sharded-1.gguf"), 1)[0];
    if (!existsSync(shard)) await runImatrix({ ...base, output: join(tmp, "sharded-1.gguf"), shard: { index: 1, count: 1 } });
    const ratio = statSync(shard).size / statSync(whole).size;
    console.log(
      `per-chunk vs running sums: ${differing} of ${total} values differ, max relative difference ${maxRel.toExponential(2)}; ` +
        `shard 1/1 of 7 chunks is ${ratio.toFixed(2)}× the merged imatrix`,
    );
    expect(maxRel).toBeLessThan(1e-5);
    expect(ratio).toBeGreaterThan(6);
  });

  it("shards of a different run (other --chunks) refuse to merge", async () => {
    const out = join(tmp, "mixed.gguf");
    await runImatrix({ ...base, output: out, shard: { index: 1, count: 2 } });
    const other = join(tmp, "other.gguf");
    await runImatrix({ ...base, nChunks: 5, output: other, shard: { index: 2, count: 2 } });
    await expect(mergeShards([shardsOf(out, 2)[0], shardsOf(other, 2)[1]], out)).rejects.toMatchObject({ code: "SHARD_MIXED" });
    expect(existsSync(out)).toBe(false);
  });
});
