import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { fileURLToPath } from "node:url";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectBadInputLine, moeq } from "../test-utils/run-moeq.js";
import { copyWithBf16Value } from "../test-utils/patched-checkpoint.js";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { parseByteSize } from "./fp8.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4/", import.meta.url));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-fp8-cli-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Exit 2, exactly one line on stderr mentioning `text`, and no output folder. */
async function expectBadInput(args: string[], text: RegExp, out: string): Promise<void> {
  expectBadInputLine(await moeq(...args), text);
  expect(existsSync(out)).toBe(false);
}

describe("moeq fp8", () => {
  it("--json summary of a per-channel conversion", async () => {
    const out = join(tmp, "ok");
    const r = await moeq("fp8", fixture, "-o", out, "--scheme", "per-channel", "--json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ scheme: "per-channel", activations: "dynamic", quantizedMatrices: 52, quantizedWeights: 3538944 });
    expect(s.bitsPerWeight).toBeGreaterThan(8);
    expect(s.bitsPerWeight).toBeLessThan(11);
  });

  it("bad input exits 2 with one line and writes nothing", async () => {
    const out = join(tmp, "bad");
    await expectBadInput(
      ["fp8", fixture, "-o", out, "--scheme", "per-channel", "--activations", "static", "--data", "x.txt"],
      /static activation scales pair with --scheme per-tensor only/,
      out,
    );
    await expectBadInput(["fp8", fixture, "-o", out, "--scheme", "per-tensor", "--activations", "static"], /needs calibration text/, out);
    await expectBadInput(["fp8", fixture, "-o", out, "--scheme", "per-row"], /scheme/, out);
    await expectBadInput(["fp8", fixture, "-o", out, "--scheme", "block", "--max-shard-size", "lots"], /--max-shard-size/, out);
    const short = join(tmp, "short.txt");
    writeFileSync(short, "The jury said.");
    await expectBadInput(
      ["fp8", fixture, "-o", out, "--scheme", "per-tensor", "--activations", "static", "--data", short],
      /short\.txt: calibration data has \d+ tokens; one window needs 255/,
      out,
    );
    mkdirSync(join(tmp, "full"));
    writeFileSync(join(tmp, "full", "keep.txt"), "x");
    const r = await moeq("fp8", fixture, "-o", join(tmp, "full"), "--scheme", "block");
    expect([r.code, r.err.trim().split("\n").length]).toEqual([2, 1]);
    expect(readdirSync(join(tmp, "full"))).toEqual(["keep.txt"]);
  });

  it("a non-finite weight exits 2 naming the file and the tensor", async () => {
    const bad = join(tmp, "nan-ckpt");
    await copyWithBf16Value(fixture, bad, "language_model.model.layers.2.self_attn.v_proj.weight", 3, 7, 0x7fc0); // NaN
    const out = join(tmp, "nan-out");
    await expectBadInput(
      ["fp8", bad, "-o", out, "--scheme", "per-tensor"],
      /model-0000\d-of-00002\.safetensors: tensor language_model\.model\.layers\.2\.self_attn\.v_proj\.weight has a non-finite weight \(NaN\) at row 3, column 7/,
      out,
    );
    expect(readdirSync(tmp).filter((n) => n.startsWith(".nan-out"))).toEqual([]);
  });

  it("--shard i/N writes shard files that `moeq merge` assembles into the unsharded folder", async () => {
    const args = ["fp8", fixture, "--scheme", "per-channel", "--json"];
    const whole = join(tmp, "ok"); // written by the first test
    const out = join(tmp, "sharded");
    const shards: string[] = [];
    for (const s of ["1/2", "2/2"]) {
      const r = await moeq(...args, "-o", out, "--shard", s);
      expect(r.code, r.err).toBe(0);
      shards.push(JSON.parse(r.out).output);
    }
    expect(shards).toEqual([`${out}.shard-1-of-2`, `${out}.shard-2-of-2`]);
    const m = await moeq("merge", ...shards, "-o", out);
    expect(m.code, m.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual(readdirSync(whole).sort());
    for (const f of readdirSync(whole)) expect(readFileSync(join(out, f)).equals(readFileSync(join(whole, f))), f).toBe(true);
  });

  it("--scheme block on a model whose input widths 128 does not divide exits 2 naming the tensor", async () => {
    const ckpt = join(tmp, "hidden-192");
    writeSyntheticLlama4(ckpt, {
      layout: "maverick",
      hidden: 192,
      ffExpert: 128,
      ffDense: 256,
      layers: 2,
      experts: 2,
      heads: 3,
      kvHeads: 1,
      headDim: 64,
      seed: 3,
    });
    const out = join(tmp, "block-192");
    await expectBadInput(
      ["fp8", ckpt, "-o", out, "--scheme", "block"],
      /hidden-192: language_model\.model\.layers\.0\.[a-z_.]+: --scheme block quantizes activations in groups of 128, which do not divide the 192 inputs of a \d+×192 weight/,
      out,
    );
    expect((await moeq("fp8", ckpt, "-o", join(tmp, "per-channel-192"), "--scheme", "per-channel")).code).toBe(0);
  });

  it("parses shard sizes like save_pretrained's max_shard_size", () => {
    expect(parseByteSize("--x", "5GB")).toBe(5e9);
    expect(parseByteSize("--x", "2GiB")).toBe(2 ** 31);
    expect(parseByteSize("--x", "1024")).toBe(1024);
    expect(() => parseByteSize("--x", "0MB")).toThrow(/--x/);
  });
});
