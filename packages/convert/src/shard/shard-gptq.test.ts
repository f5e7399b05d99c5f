// `moeq gptq --shard i/N` + `moeq merge` (kind "safetensors"): N shards running at once, meeting after each layer
// in <out>.parts/, merge into a folder byte-identical to the unsharded run (per-layer weight files, index, configs,
// tokenizer files, gptq-report.json) for N = 1, 2, 3, 7, with one Linear excluded (kept BF16) on the way; a shard
// alone times out at the first barrier with one line naming the missing shards, and reuses its part when rerun.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TINY_GPTQ_SCOUT, writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { expectSameFolder } from "@moeq/test-support/same-folder";
import { gptqConvert, type GptqConvertOptions } from "../gptq/gptq-pipeline.js";
import { mergeShards } from "./merge.js";
import { shardFilePath } from "./shard-file.js";

const calib = fileURLToPath(new URL("../../../../fixtures/data/brown-validation.txt", import.meta.url));
const OPTS: GptqConvertOptions = { nsamples: 2, seqlen: 32, groupSize: 32, exclude: ["layers\\.1\\.self_attn\\.o_proj"] };

let tmp: string;
let src: string;
let whole: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-shard-gptq-"));
  src = join(tmp, "ckpt");
  writeSyntheticLlama4(src, TINY_GPTQ_SCOUT);
  whole = join(tmp, "whole");
  await gptqConvert(src, whole, calib, OPTS);
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("moeq gptq --shard i/N + merge", () => {
  it.each([1, 2, 3, 7])(
    "%i concurrent shards merge byte-identical to the unsharded folder",
    async (n) => {
      const out = join(tmp, `sharded-${n}`);
      const runs = await Promise.all(Array.from({ length: n }, (_, i) => gptqConvert(src, out, calib, { ...OPTS, shard: { index: i + 1, count: n } })));
      for (const r of runs) expect(r.report).toEqual(runs[0].report);
      expect(existsSync(out)).toBe(false);
      await mergeShards(
        runs.map((r) => r.shardFile!),
        out,
      );
      expect(readdirSync(whole)).toContain("gptq-report.json");
      expectSameFolder(out, whole);
    },
    60_000,
  );

  it("a shard whose partners never come times out at the first barrier (EnvironmentError, one line); rerun, it reuses its part", async () => {
    const out = join(tmp, "alone");
    const err = await gptqConvert(src, out, calib, { ...OPTS, shard: { index: 2, count: 3 }, shardTimeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({ code: "SHARD_TIMEOUT", name: "EnvironmentError" });
    expect(err!.message).toMatch(/alone\.parts: shard 2\/3 waited 0 s for shards 1, 3 to finish layer 0/);
    expect(err!.message).not.toContain("\n");
    expect(existsSync(shardFilePath(out, { index: 2, count: 3 }))).toBe(false);
    expect(existsSync(join(`${out}.parts`, "layer-0.part-2-of-3.json"))).toBe(true); // its own part, reused by a rerun

    // rerun with its partners: shard 2 reuses its layer-0 part, and the merge is still the unsharded folder
    const runs = await Promise.all([1, 2, 3].map((i) => gptqConvert(src, out, calib, { ...OPTS, shard: { index: i, count: 3 } })));
    expect(runs.map((r) => r.resumedLayers)).toEqual([0, 1, 0]);
    await mergeShards(
      runs.map((r) => r.shardFile!),
      out,
    );
    expectSameFolder(out, whole);
  });
});
