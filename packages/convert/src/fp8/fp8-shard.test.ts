import { describe, expect, it, beforeAll } from "vitest";
import { fileURLToPath } from "node:url";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { expectSameFolder } from "@moeq/test-support/same-folder";
import { convertToFp8, type Fp8ConvertOptions } from "./fp8-convert.js";
import { mergeShards } from "../shard/merge.js";
import { shardFilePath } from "../shard/shard-file.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));
const work = suiteTempDir("moeq-fp8-shard-");
const opts: Fp8ConvertOptions = { scheme: "block", maxShardBytes: 2_000_000 };
let whole: string;

beforeAll(async () => {
  whole = join(work.path, "whole");
  await convertToFp8(fixture, whole, opts);
}, 60_000);

describe("moeq fp8 --shard i/N + merge", () => {
  it.each([1, 2, 3, 7])(
    "%i shards merge into the folder of the unsharded run, byte for byte",
    async (n) => {
      const out = join(work.path, `sharded-${n}`);
      const shards: string[] = [];
      for (let i = 1; i <= n; i++) {
        const s = await convertToFp8(fixture, out, { ...opts, shard: { index: i, count: n } });
        expect(s.output).toBe(shardFilePath(out, { index: i, count: n }));
        shards.push(s.output);
      }
      expect(existsSync(out)).toBe(false);
      const m = await mergeShards(shards.reverse(), out);
      expect(m.kind).toBe("fp8");
      expect(readdirSync(whole).length).toBeGreaterThan(5); // several safetensors files, the index, config, tokenizer
      expectSameFolder(out, whole);
    },
    60_000,
  );

  it("refuses a missing shard and writes nothing", async () => {
    const out = join(work.path, "missing");
    const s = await convertToFp8(fixture, out, { ...opts, shard: { index: 2, count: 3 } });
    await expect(mergeShards([s.output], out)).rejects.toMatchObject({ code: "SHARD_MISSING" });
    expect(existsSync(out)).toBe(false);
  });
});
