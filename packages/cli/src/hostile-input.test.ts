// Hostile and broken input through the CLI (issue #16): NaN/Inf weights, a missing shard, shapes that disagree with
// config.json, a full disk, and a sample of fuzzed headers. Each must exit 2 with one line on stderr naming the file
// and the problem, and leave nothing under the output name (nor temp files next to it).
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { openGguf, seededRandom } from "@moeq/formats";
import { Bytes, GGUF_TARGET, mutateBytes } from "@moeq/test-support/header-fuzz";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { IMATRIX_DAT_TARGET, IMATRIX_GGUF_TARGET } from "../../convert/src/test-utils/imatrix-fuzz-targets.js";
import { expectBadInputLine, moeq, type MoeqRun } from "./test-utils/run-moeq.js";
import { copyWithBf16Value } from "./test-utils/patched-checkpoint.js";
import { withSmallDisk } from "./test-utils/small-disk.js";

const fixture = fileURLToPath(new URL("../../../fixtures/tiny-llama4/", import.meta.url));
const work = suiteTempDir("moeq-hostile-");
const L = "language_model.model.layers";

/** Exit 2, one line matching `text`, and nothing (not even a temp file) left in the output's folder. */
function expectRefused(r: MoeqRun, text: RegExp, outDir: string): void {
  expectBadInputLine(r, text);
  expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
}

/** Overwrites the stored value at element `index` of tensor `name` of a GGUF with `bits` (2 or 4 bytes). */
async function patchGguf(path: string, name: string, index: number, bits: Uint8Array): Promise<void> {
  const g = await openGguf(path);
  const t = g.tensor(name)!;
  const at = g.dataOffset + t.offset + index * bits.length;
  await g.close();
  const fd = openSync(path, "r+");
  writeSync(fd, bits, 0, bits.length, at);
  closeSync(fd);
}

let f16Model: string | undefined;
/** The fixture converted to F16 once per file. */
async function f16(): Promise<string> {
  if (!f16Model) {
    f16Model = join(work.path, "f16.gguf");
    expect((await moeq("convert", fixture, "-o", f16Model, "--outtype", "f16", "--threads", "1")).code).toBe(0);
  }
  return f16Model;
}

describe("NaN / Inf weights", () => {
  it("convert refuses a NaN in a plain weight and an Inf in a fused expert tensor, naming file, tensor and index", async () => {
    const nan = join(work.path, "nan-plain");
    await copyWithBf16Value(fixture, nan, `${L}.0.self_attn.q_proj.weight`, 5, 9, 0x7fc0);
    const out = join(work.path, "out-nan-plain");
    mkdirSync(out);
    expectRefused(
      await moeq("convert", nan, "-o", join(out, "m.gguf"), "--outtype", "f16", "--threads", "1"),
      /model-00001-of-00002\.safetensors: tensor language_model\.model\.layers\.0\.self_attn\.q_proj\.weight has a non-finite weight \(NaN\) at row 5, column 9/,
      out,
    );
    const inf = join(work.path, "inf-experts");
    // gate_up_proj is [experts 4, hidden 256, 2·ff 512]; (row 519, column 44) of the helper's 256-wide view is
    // flat element 519·256 + 44 = 1·256·512 + 3·512 + 300, i.e. [1, 3, 300] (an up-projection weight)
    await copyWithBf16Value(fixture, inf, `${L}.1.feed_forward.experts.gate_up_proj`, 519, 44, 0x7f80);
    expectRefused(
      await moeq("convert", inf, "-o", join(out, "m.gguf"), "--outtype", "q4_k_m", "--threads", "1"),
      /tensor language_model\.model\.layers\.1\.feed_forward\.experts\.gate_up_proj has a non-finite weight \(Infinity\) at index \[1, 3, 300\]/,
      out,
    );
  });

  it("quantize refuses a NaN in a converted F16 tensor and an Inf in a tensor it would copy unchanged", async () => {
    const src = await f16();
    const out = join(work.path, "out-q");
    mkdirSync(out);
    const nan = join(work.path, "nan.gguf");
    cpSync(src, nan);
    await patchGguf(nan, "blk.0.attn_q.weight", 256 * 2 + 7, Uint8Array.of(0x00, 0x7e)); // F16 NaN at row 2, column 7
    expectRefused(
      await moeq("quantize", nan, join(out, "q.gguf"), "Q4_K_M", "--threads", "1"),
      /nan\.gguf: tensor blk\.0\.attn_q\.weight has a non-finite weight \(NaN\) at row 2, column 7/,
      out,
    );
    const inf = join(work.path, "inf.gguf");
    cpSync(src, inf);
    await patchGguf(inf, "output_norm.weight", 4, new Uint8Array(new Float32Array([-Infinity]).buffer)); // kept F32
    expectRefused(
      await moeq("quantize", inf, join(out, "q.gguf"), "Q8_0", "--threads", "1"),
      /inf\.gguf: tensor output_norm\.weight has a non-finite weight \(-Infinity\) at element 4/,
      out,
    );
    // an F16 → F16 requantization copies every tensor unchanged, and still refuses
    expectRefused(await moeq("quantize", nan, join(out, "q.gguf"), "F16", "--threads", "1"), /tensor blk\.0\.attn_q\.weight has a non-finite weight/, out);
  });
});

describe("broken checkpoints", () => {
  it("a shard named in the index that is absent, and a tensor whose shard lacks it", async () => {
    const missing = join(work.path, "missing-shard");
    cpSync(fixture, missing, { recursive: true });
    rmSync(join(missing, "model-00002-of-00002.safetensors"));
    const out = join(work.path, "out-shard");
    mkdirSync(out);
    for (const cmd of [
      ["convert", missing, "-o", join(out, "m.gguf")],
      ["fp8", missing, "-o", join(out, "fp8"), "--scheme", "per-tensor"],
    ]) {
      expectRefused(await moeq(...cmd), /missing-shard.*model-00002-of-00002\.safetensors/, out);
    }
    const lacking = join(work.path, "lacking-tensor");
    cpSync(fixture, lacking, { recursive: true });
    const index = JSON.parse(readFileSync(join(lacking, "model.safetensors.index.json"), "utf8"));
    const moved = `${L}.0.self_attn.q_proj.weight`;
    index.weight_map[moved] =
      index.weight_map[moved] === "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
    writeFileSync(join(lacking, "model.safetensors.index.json"), JSON.stringify(index));
    expectRefused(await moeq("convert", lacking, "-o", join(out, "m.gguf")), /language_model\.model\.layers\.0\.self_attn\.q_proj\.weight/, out);
  });

  it.each([
    [
      "hidden_size",
      320,
      /config\.json: disagrees with the checkpoint: token_embd\.weight has ne \[256,3200\], but hidden_size 320, vocab_size 3200 make it \[320,3200\]/,
    ],
    [
      "num_local_experts",
      8,
      /config\.json: disagrees with the checkpoint: blk\.1\.ffn_gate_inp\.weight has ne \[256,4\], but hidden_size 256, num_local_experts 8/,
    ],
    ["intermediate_size", 512, /config\.json: disagrees with the checkpoint: blk\.1\.ffn_gate_exps\.weight has ne \[256,256,4\], but .*intermediate_size 512/],
    ["num_hidden_layers", 3, /config\.json: disagrees with the checkpoint: num_hidden_layers 3, but the checkpoint has blk\.3\./],
  ])("config.json %s = %d disagrees with the tensors: refused up front", async (key, value, text) => {
    const dir = join(work.path, `config-${key}`);
    cpSync(fixture, dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    cfg.text_config[key] = value;
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    const out = join(work.path, `out-config-${key}`);
    mkdirSync(out);
    for (const cmd of [
      ["convert", dir, "-o", join(out, "m.gguf"), "--threads", "1"],
      ["fp8", dir, "-o", join(out, "fp8"), "--scheme", "per-tensor"],
      ["awq", dir, "-o", join(out, "awq"), "--rtn"],
      ["gptq", dir, "-o", join(out, "gptq"), "--rtn"],
    ]) {
      const r = await moeq(...cmd);
      expectRefused(r, text, out);
    }
  });
});

describe("a full disk", () => {
  it.each([["any" as const], ["rlimit" as const]])(
    "convert, quantize and fp8 exit 2 naming the output, with no partial file and no temp file left (%s)",
    async (kind) => {
      const src = await f16();
      await withSmallDisk(
        1 << 20,
        async (dir, how) => {
          const code = how === "tmpfs" ? "ENOSPC" : "EFBIG";
          const cases = [
            ["convert", fixture, "-o", join(dir, "c.gguf"), "--outtype", "f16", "--threads", "1"],
            ["quantize", src, join(dir, "q.gguf"), "Q8_0", "--threads", "1"],
            ["fp8", fixture, "-o", join(dir, "fp8"), "--scheme", "per-tensor"],
          ];
          for (const cmd of cases) {
            const r = await moeq(...cmd);
            expectBadInputLine(r, new RegExp(`${dir}/(c\\.gguf|q\\.gguf|fp8/model\\.safetensors): cannot write: .*\\(${code}\\)`));
            expect(readdirSync(dir)).toEqual([]);
          }
        },
        kind === "any" ? undefined : kind,
      );
    },
  );
});

describe("hostile names on the terminal", () => {
  it("moeq inspect escapes control characters in keys, values and tensor names", async () => {
    const b = new Bytes();
    b.bytes(new TextEncoder().encode("GGUF"));
    b.u32(3);
    b.u64(1n); // tensors
    b.u64(2n); // keys
    b.string("general.name\x1b[2J"); // clears the screen if printed raw
    b.i32(8);
    b.string("tiny\x9b31m\u2028");
    b.string("evil." + "k".repeat(5000));
    b.i32(4);
    b.u32(1);
    b.string("t\r\x07");
    b.u32(1);
    b.u64(8n);
    b.i32(0); // F32
    b.u64(0n);
    b.zeros((32 - (b.length % 32)) % 32);
    b.zeros(32);
    const path = join(work.path, "names.gguf");
    writeFileSync(path, b.result());
    const r = await moeq("inspect", path, "--tensors");
    expect(r.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(r.out.replace(/\n/g, "")).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028]/);
    expect(r.out).toContain("general.name\\x1b[2J");
    expect(r.out).toContain("t\\x0d\\x07");
    expect(Math.max(...r.out.split("\n").map((l) => l.length))).toBeLessThan(1000);
  });
});

describe("fuzzed headers through the CLI", () => {
  const CASES = 6;
  const outcome = (r: MoeqRun, out: string): void => {
    expect([0, 2]).toContain(r.code); // never 70 (an internal error)
    if (r.code === 2) {
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    }
  };

  it("moeq inspect and quantize on mutated GGUF headers", async () => {
    const dir = join(work.path, "fuzz-gguf");
    mkdirSync(dir);
    for (let i = 0; i < CASES; i++) {
      const path = join(dir, `m${i}.gguf`);
      writeFileSync(path, GGUF_TARGET.make(seededRandom(0xc11 + i)));
      outcome(await moeq("inspect", path), "/nonexistent");
      const out = join(dir, `q${i}.gguf`);
      outcome(await moeq("quantize", path, out, "Q4_K_M", "--threads", "1"), out);
    }
  });

  it("moeq convert on a checkpoint whose shard header is mutated", async () => {
    const ck = join(work.path, "fuzz-ckpt");
    cpSync(fixture, ck, { recursive: true });
    const shard = join(ck, "model-00001-of-00002.safetensors");
    const good = readFileSync(shard);
    const headerEnd = 8 + Number(good.readBigUInt64LE(0));
    for (let i = 0; i < CASES; i++) {
      writeFileSync(shard, mutateBytes(seededRandom(0xc0de + i), good, headerEnd));
      const out = join(work.path, `fuzz-c${i}.gguf`);
      const r = await moeq("convert", ck, "-o", out, "--threads", "1");
      outcome(r, out);
      if (r.code === 0) rmSync(out);
    }
  });

  it("moeq imatrix --in-file on mutated imatrix files (GGUF and legacy .dat)", async () => {
    const dir = join(work.path, "fuzz-imatrix");
    mkdirSync(dir);
    for (let i = 0; i < CASES; i++) {
      for (const target of [IMATRIX_GGUF_TARGET, IMATRIX_DAT_TARGET]) {
        const path = join(dir, `in${i}${target.ext}`);
        writeFileSync(path, target.make(seededRandom(0x1b + i)));
        const out = join(dir, `out${i}.gguf`);
        const r = await moeq("imatrix", fixture, "--in-file", path, "-o", out);
        expect(r.code).toBe(2); // random statistics never fit the fixture's tensors
        outcome(r, out);
      }
    }
  });
});
