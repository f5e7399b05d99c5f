import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { convertHfToGguf } from "../convert-hf.js";
import { quantizeGguf } from "../quantize-gguf.js";
import { LlamaFType } from "../ftype.js";
import { mergeShards } from "./merge.js";
import { shardFilePath } from "./shard-file.js";

let tmp: string;
let dir: string;
let f16: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-shard-"));
  dir = join(tmp, "ckpt");
  writeSyntheticLlama4(dir, { layout: "maverick", seed: 3, hidden: 64, ffExpert: 32, layers: 2, experts: 2 });
  f16 = join(tmp, "model-f16.gguf");
  await convertHfToGguf(dir, f16, { outtype: LlamaFType.MOSTLY_F16 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const shardsOf = (out: string, n: number): string[] => Array.from({ length: n }, (_, i) => shardFilePath(out, { index: i + 1, count: n }));

describe("--shard i/N + merge (GGUF)", () => {
  it.each([1, 2, 3, 7])("convert --outtype q4_k_m in %i shards merges byte-identical", async (n) => {
    const whole = join(tmp, `conv-whole-${n}.gguf`);
    await convertHfToGguf(dir, whole, { outtype: LlamaFType.MOSTLY_Q4_K_M });
    const out = join(tmp, `conv-${n}.gguf`);
    for (let i = 1; i <= n; i++) await convertHfToGguf(dir, out, { outtype: LlamaFType.MOSTLY_Q4_K_M, shard: { index: i, count: n } });
    expect(existsSync(out)).toBe(false);
    await mergeShards(shardsOf(out, n).reverse(), out);
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
  });

  it.each([1, 2, 3, 7])("quantize q4_k_m in %i shards merges byte-identical", async (n) => {
    const whole = join(tmp, `q-whole.gguf`);
    if (!existsSync(whole)) await quantizeGguf(f16, whole, { ftype: LlamaFType.MOSTLY_Q4_K_M });
    const out = join(tmp, `q-${n}.gguf`);
    for (let i = 1; i <= n; i++) await quantizeGguf(f16, out, { ftype: LlamaFType.MOSTLY_Q4_K_M, shard: { index: i, count: n } });
    await mergeShards(shardsOf(out, n), out);
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
  });

  it("refuses missing, duplicate, mixed and truncated shards with one-line InputErrors, writing nothing", async () => {
    const a = join(tmp, "a.gguf");
    const b = join(tmp, "b.gguf");
    for (let i = 1; i <= 3; i++) await quantizeGguf(f16, a, { ftype: LlamaFType.MOSTLY_Q4_K_M, shard: { index: i, count: 3 } });
    await quantizeGguf(f16, b, { ftype: LlamaFType.MOSTLY_Q8_0, shard: { index: 2, count: 3 } });
    const [s1, s2, s3] = shardsOf(a, 3);
    const out = join(tmp, "merged.gguf");
    const refused = async (paths: string[], code: string, message: RegExp): Promise<void> => {
      const err = await mergeShards(paths, out).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code });
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain("\n");
      expect(existsSync(out)).toBe(false);
    };
    await refused([s1, s3], "SHARD_MISSING", /missing shard 2 of 3/);
    await refused([s1, s2, s2, s3], "SHARD_DUPLICATE", /shard 2\/3 is given twice/);
    await refused([s1, shardsOf(b, 3)[1], s3], "SHARD_MIXED", /different run/);
    const cut = join(tmp, "cut.shard");
    writeFileSync(cut, readFileSync(s2));
    truncateSync(cut, statSync(cut).size - 5);
    await refused([s1, cut, s3], "SHARD_TRUNCATED", /cut\.shard: shard file is truncated/);
    const flipped = join(tmp, "flip.shard");
    const bytes = readFileSync(s2);
    bytes[40] ^= 0xff;
    writeFileSync(flipped, bytes);
    await refused([s1, flipped, s3], "SHARD_CORRUPT", /CRC32/);
    await expect(
      quantizeGguf(f16, a, { ftype: LlamaFType.MOSTLY_Q4_K_M, shard: { index: 1, count: 2 }, expertErrorsPath: join(tmp, "e.json") }),
    ).rejects.toMatchObject({
      code: "SHARD_UNSUPPORTED",
    });
  });
});
