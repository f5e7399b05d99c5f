// `moeq awq --shard i/N` + `moeq merge` (kind "safetensors"): the merged folder — weight files split at a small
// --max-shard-size, their index, config.json, quant_config.json and the tokenizer/processor files — is
// byte-identical to the unsharded run for N = 1, 2, 3, 7, on a small synthetic Maverick-layout checkpoint (3 decoder
// layers, the rest and the vision tower: 5 units, so N = 7 leaves shards with no layer).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { expectSameFolder } from "@moeq/test-support/same-folder";
import { convertToAwq, type AwqConvertOptions } from "../awq/awq-convert.js";
import { mergeShards } from "./merge.js";
import { shardFilePath } from "./shard-file.js";
import { FolderShardWriter, type FolderLayout } from "./folder-shard.js";

const calib = fileURLToPath(new URL("../../../../fixtures/data/brown-validation.txt", import.meta.url));
const OPTS: AwqConvertOptions = { data: calib, groupSize: 32, ctx: 32, maxWindows: 1, maxShardBytes: 100_000 };

let tmp: string;
let whole: string;
let fixture: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-shard-awq-"));
  fixture = join(tmp, "ckpt");
  writeSyntheticLlama4(fixture, {
    layout: "maverick",
    hidden: 64,
    ffExpert: 64,
    ffDense: 128,
    layers: 3,
    experts: 2,
    heads: 2,
    kvHeads: 1,
    headDim: 32,
    seed: 5,
  });
  whole = join(tmp, "whole");
  await convertToAwq(fixture, whole, OPTS);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("moeq awq --shard i/N + merge", () => {
  it.each([1, 2, 3, 7])(
    "%i shards merge byte-identical to the unsharded folder",
    async (n) => {
      const out = join(tmp, `sharded-${n}`);
      for (let i = 1; i <= n; i++) {
        const s = await convertToAwq(fixture, out, { ...OPTS, shard: { index: i, count: n } });
        expect(s.shardFile).toBe(shardFilePath(out, { index: i, count: n }));
        expect(existsSync(`${s.shardFile}.partial`)).toBe(false);
      }
      expect(existsSync(out)).toBe(false);
      const shards = Array.from({ length: n }, (_, i) => shardFilePath(out, { index: i + 1, count: n }));
      await mergeShards(shards, out);
      expect(readdirSync(whole).filter((f) => f.endsWith(".safetensors")).length).toBeGreaterThan(1);
      expectSameFolder(out, whole);
    },
    60_000,
  );

  it("a shard killed after a layer resumes from <out>.shard-i-of-N.partial/ and writes the same shard file", async () => {
    const out = join(tmp, "resumed");
    const shard = { index: 1, count: 2 };
    const killed = new Error("killed");
    let layers = 0;
    await expect(
      convertToAwq(fixture, out, {
        ...OPTS,
        shard,
        onLayer: () => {
          if (++layers === 1) throw killed;
        },
      }),
    ).rejects.toBe(killed);
    const path = shardFilePath(out, shard);
    expect(existsSync(`${path}.partial`)).toBe(true);
    expect(existsSync(path)).toBe(false);
    await convertToAwq(fixture, out, { ...OPTS, shard });
    const again = join(tmp, "uninterrupted");
    await convertToAwq(fixture, again, { ...OPTS, shard });
    expect(readFileSync(path).equals(readFileSync(shardFilePath(again, shard)))).toBe(true);
  });

  it("a hostile layout (a path out of the folder, a tensor no shard holds) is refused with one line, nothing written", async () => {
    const refused = async (layout: FolderLayout, message: RegExp): Promise<void> => {
      const out = join(tmp, "hostile");
      const w = await FolderShardWriter.open(out, { index: 1, count: 1 }, "x", layout);
      await w.finish();
      const err = await mergeShards([w.path], out).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(message);
      expect(err?.message).not.toContain("\n");
      expect(existsSync(out)).toBe(false);
      expect(existsSync(join(tmp, "evil.safetensors"))).toBe(false);
    };
    await refused({ writers: [{ path: "../evil.safetensors", tensors: [] }], files: [] }, /layout names a safetensors file "\.\.\/evil\.safetensors"/);
    // the unit count says one tensor, but nobody stored it
    const w = { path: "model.safetensors", tensors: [{ name: "a", dtype: "F32" as const, shape: [1] }] };
    await refused({ writers: [w], files: [] }, /the shards hold 1 of 2 units/);
  });
});
