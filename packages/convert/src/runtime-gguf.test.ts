// The runtime reading the converter's GGUFs: the same weights and logits as from the HF checkpoint they came from.
// Lives in @moeq/convert because it needs the converter (the runtime must not import it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeRow, loadModel, openGgufFile, openSafetensorsTensors, WeightStore } from "@moeq/runtime";
import { writeRandomCheckpoint } from "@moeq/test-support/random-checkpoint";
import { patternPng } from "@moeq/test-support/pattern-png";
import { convertHfToGguf } from "./convert-hf.js";
import { LlamaFType } from "./ftype.js";

let dir: string;
let ckpt: string;
let gguf: string;
const prompt = [3072, 84, 104, 101, 32, 106, 117, 114, 121, 32, 115, 97, 105, 100, 500, 900, 1200, 33, 44, 2000];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "moeq-runtime-gguf-"));
  ckpt = join(dir, "hf");
  writeRandomCheckpoint(ckpt, { seed: 7 });
  gguf = join(dir, "m-f32.gguf");
  await convertHfToGguf(ckpt, gguf, { outtype: LlamaFType.ALL_F32 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runtime on the converter's GGUF", () => {
  it("views HF fused experts per expert exactly as the converter lays them out in GGUF", async () => {
    const st = await openSafetensorsTensors(ckpt);
    const hf = new WeightStore(ckpt, st.tensors, {}, st.close);
    const g = await openGgufFile(gguf);
    const gg = new WeightStore(gguf, g.sources(), {}, g.close);
    for (const name of ["blk.1.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight", "blk.3.ffn_down_exps.weight"]) {
      expect(hf.info(name).ne).toEqual(gg.info(name).ne);
      for (let e = 0; e < 4; e++) {
        const a = hf.matrix(name, e);
        const b = gg.matrix(name, e);
        const ra = new Float32Array(a.cols);
        const rb = new Float32Array(b.cols);
        for (const r of [0, 7, a.rows - 1]) {
          decodeRow(a, r, ra);
          decodeRow(b, r, rb);
          expect(Array.from(ra)).toEqual(Array.from(rb));
        }
      }
    }
    hf.close();
    gg.close();
  });

  it("gives the same logits from HF safetensors and from the converter's F32 GGUF", async () => {
    const hf = await loadModel(ckpt);
    const gg = await loadModel(gguf, { ggmlNumerics: false });
    const a = await hf.logits(prompt);
    const b = await gg.logits(prompt);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    expect(max).toBeLessThan(1e-4);
    expect(gg.config.attentionChunkSize).toBe(8192);
    await hf.close();
    await gg.close();
  });

  it("gives the same image-conditioned logits from the GGUF + mmproj-<name> pair as from HF", async () => {
    const vdir = join(dir, "vision");
    writeRandomCheckpoint(vdir, { seed: 3, vision: true });
    const m = await loadModel(vdir);
    const bytes = patternPng(150, 60);
    const text = m.expandImagePrompt("<|image|>What is it?", bytes);
    const ids = m.tokenize(text, { addBos: true });
    const withImage = await m.logits(ids, { image: bytes });
    // the converter's GGUF + mmproj-<name> pair gives the same image-conditioned logits
    const out = join(dir, "vision-f32.gguf");
    await convertHfToGguf(vdir, out, { outtype: LlamaFType.ALL_F32 });
    const g = await loadModel(out, { ggmlNumerics: false });
    expect(g.expandImagePrompt("<|image|>What is it?", bytes)).toBe(text);
    const fromGguf = await g.logits(ids, { image: bytes });
    let max = 0;
    for (let i = 0; i < fromGguf.length; i++) max = Math.max(max, Math.abs(fromGguf[i] - withImage[i]));
    expect(max).toBeLessThan(1e-4);
    await g.close();
    await m.close();
  });
});
