import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGMLType, GGUFValueType, f16ToF32Row, openGguf, type GGUFFile } from "@moeq/formats";
import { writeSyntheticLlama4, syntheticStoredValue, type SyntheticTensor } from "@moeq/test-support/synthetic-llama4";
import { convertHfToGguf } from "./convert-hf.js";
import { LlamaFType } from "./ftype.js";
import { ggufNumber, ggufString } from "./gguf-kv.js";

const SEED = 7;
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-conv-syn-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function f16At(f: GGUFFile, name: string, index: number): Promise<number> {
  const t = f.tensor(name)!;
  expect(t.type).toBe(GGMLType.F16);
  const b = await f.readTensorBytes(name, { start: index * 2, end: index * 2 + 2 });
  return f16ToF32Row(new Uint16Array([b[0] | (b[1] << 8)]))[0];
}
const idx = (tensors: SyntheticTensor[], name: string): number => tensors.findIndex((t) => t.name === name);

describe("convert: synthetic Llama 4 layouts", () => {
  it("bad checkpoints fail with an InputError naming the file and the problem", async () => {
    const dir = join(tmp, "bad");
    writeSyntheticLlama4(dir, { layout: "scout", seed: SEED, hidden: 64, ffExpert: 32, layers: 1, experts: 2 });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ architectures: ["MistralForCausalLM"] }));
    await expect(convertHfToGguf(dir, join(tmp, "bad.gguf"), { outtype: LlamaFType.MOSTLY_F16 })).rejects.toThrow(
      /config\.json: architectures\[0\] is "MistralForCausalLM"/,
    );
    rmSync(join(dir, "config.json"));
    await expect(convertHfToGguf(dir, join(tmp, "bad.gguf"), { outtype: LlamaFType.MOSTLY_F16 })).rejects.toMatchObject({
      code: "NO_CONFIG",
      file: join(dir, "config.json"),
    });
    expect(existsSync(join(tmp, "bad.gguf"))).toBe(false);
  });

  it("Scout layout (every layer MoE, 16 experts, multimodal prefix): keys, names, shapes, expert split/transposes", async () => {
    const dir = join(tmp, "scout");
    const tensors = writeSyntheticLlama4(dir, { layout: "scout", seed: SEED, hidden: 64, ffExpert: 32, layers: 2 });
    const out = join(tmp, "scout.gguf");
    const summary = await convertHfToGguf(dir, out, { outtype: LlamaFType.MOSTLY_F16 });
    expect(summary.mmproj?.output).toBe(join(tmp, "mmproj-scout.gguf"));
    const mm = await openGguf(join(tmp, "mmproj-scout.gguf"));
    try {
      expect(ggufString(mm, "general.architecture")).toBe("clip");
      expect(ggufString(mm, "clip.projector_type")).toBe("llama4");
      expect(ggufNumber(mm, "clip.vision.projector.scale_factor")).toBe(2);
      expect(ggufNumber(mm, "clip.vision.projection_dim")).toBe(64);
      const names = mm.tensors.map((t) => t.name);
      for (const n of [
        "mm.model.fc.weight",
        "mm.model.mlp.1.weight",
        "mm.model.mlp.2.weight",
        "v.patch_embd.weight",
        "v.class_embd",
        "v.position_embd.weight",
        "v.pre_ln.weight",
        "v.post_ln.bias",
        "v.blk.0.attn_q.weight",
        "v.blk.0.attn_out.bias",
        "v.blk.0.ln1.weight",
        "v.blk.0.ffn_down.weight",
      ]) {
        expect(names).toContain(n);
      }
      expect(mm.tensor("v.patch_embd.weight")!.type).toBe(GGMLType.F16);
      expect(mm.tensor("v.position_embd.weight")!.type).toBe(GGMLType.F32);
      expect(mm.tensor("v.blk.0.attn_q.bias")!.type).toBe(GGMLType.F32);
      expect(mm.tensor("v.blk.0.ffn_up.weight")!.shape).toEqual([64, 256]);
    } finally {
      await mm.close();
    }
    const f = await openGguf(out);
    try {
      expect(ggufString(f, "general.architecture")).toBe("llama4");
      expect(ggufNumber(f, "llama4.expert_count")).toBe(16);
      expect(ggufNumber(f, "llama4.interleave_moe_layer_step")).toBe(1);
      expect(ggufNumber(f, "llama4.expert_feed_forward_length")).toBe(32);
      expect(ggufNumber(f, "llama4.feed_forward_length")).toBe(128);
      expect(f.metadata.get("llama4.rope.freq_base")?.type).toBe(GGUFValueType.FLOAT32);
      expect(ggufNumber(f, "general.file_type")).toBe(1);
      expect(ggufString(f, "tokenizer.ggml.pre")).toBe("llama4");
      // no vision tensors in the text model; rope_freqs generated first
      expect(f.tensors[0].name).toBe("rope_freqs.weight");
      expect(f.tensors.some((t) => t.name.startsWith("v.") || t.name.includes("vision"))).toBe(false);
      const names = f.tensors.map((t) => t.name);
      for (const l of [0, 1]) {
        for (const n of ["ffn_gate_exps", "ffn_up_exps", "ffn_down_exps", "ffn_gate_inp", "ffn_gate_shexp", "attn_q"])
          expect(names).toContain(`blk.${l}.${n}.weight`);
        expect(names).not.toContain(`blk.${l}.ffn_gate.weight`);
      }
      expect(f.tensor("blk.0.ffn_gate_exps.weight")!.shape).toEqual([64, 32, 16]);
      expect(f.tensor("blk.0.ffn_down_exps.weight")!.shape).toEqual([32, 64, 16]);
      expect(f.tensor("blk.0.ffn_gate_inp.weight")!.type).toBe(GGMLType.F32);
      expect(f.tensor("blk.0.attn_norm.weight")!.type).toBe(GGMLType.F32);
      // gate_up_proj [E, hidden, 2ff]: GGUF gate[e][r][c] = HF[e][c][r], up[e][r][c] = HF[e][c][ff + r]
      const k = idx(tensors, "language_model.model.layers.1.feed_forward.experts.gate_up_proj");
      const H = 64,
        FF = 32;
      for (const [e, r, c] of [
        [0, 0, 0],
        [3, 5, 17],
        [15, 31, 63],
        [9, 2, 40],
      ]) {
        const hf = (col: number) => syntheticStoredValue(SEED, k, e * H * 2 * FF + c * 2 * FF + col, false);
        expect(await f16At(f, "blk.1.ffn_gate_exps.weight", e * FF * H + r * H + c)).toBeCloseTo(hf(r), 3);
        expect(await f16At(f, "blk.1.ffn_up_exps.weight", e * FF * H + r * H + c)).toBeCloseTo(hf(FF + r), 3);
      }
      // down_proj [E, ff, hidden]: GGUF down[e][r][c] = HF[e][c][r]
      const kd = idx(tensors, "language_model.model.layers.1.feed_forward.experts.down_proj");
      for (const [e, r, c] of [
        [0, 0, 1],
        [7, 63, 31],
        [15, 10, 3],
      ]) {
        expect(await f16At(f, "blk.1.ffn_down_exps.weight", e * H * FF + r * FF + c)).toBeCloseTo(
          syntheticStoredValue(SEED, kd, e * FF * H + c * H + r, false),
          3,
        );
      }
    } finally {
      await f.close();
    }
  });

  it("Maverick layout (interleaved MoE, 128 experts, text-only, 2 shards) and per-expert unfused names give the same tensors", async () => {
    const fused = join(tmp, "mav");
    const unfused = join(tmp, "mav-unfused");
    const opts = { layout: "maverick" as const, seed: SEED, hidden: 64, ffExpert: 32, layers: 4, multimodal: false };
    writeSyntheticLlama4(fused, { ...opts, shards: 2 });
    await convertHfToGguf(fused, join(tmp, "mav.gguf"), { outtype: LlamaFType.MOSTLY_F16, maxUnitElements: 1000 });
    const f = await openGguf(join(tmp, "mav.gguf"));
    try {
      expect(ggufNumber(f, "llama4.expert_count")).toBe(128);
      expect(ggufNumber(f, "llama4.interleave_moe_layer_step")).toBe(2);
      const names = f.tensors.map((t) => t.name);
      expect(names).toContain("blk.0.ffn_gate.weight");
      expect(names).not.toContain("blk.0.ffn_gate_exps.weight");
      expect(names).toContain("blk.1.ffn_gate_exps.weight");
      expect(names).toContain("blk.3.ffn_down_exps.weight");
      expect(f.tensor("blk.3.ffn_up_exps.weight")!.shape).toEqual([64, 32, 128]);
      expect(f.tensor("blk.2.ffn_down.weight")!.shape).toEqual([128, 64]);
    } finally {
      await f.close();
    }
    // per-expert checkpoints hold expert e's nn.Linear [ff, hidden] directly: values differ (different tensors), shapes must not
    const ut = writeSyntheticLlama4(unfused, { ...opts, perExpert: true });
    await convertHfToGguf(unfused, join(tmp, "mav-u.gguf"), { outtype: LlamaFType.MOSTLY_F16 });
    const g = await openGguf(join(tmp, "mav-u.gguf"));
    try {
      const a = await openGguf(join(tmp, "mav.gguf"));
      const shapes = (x: GGUFFile) => Object.fromEntries(x.tensors.map((t) => [t.name, t.shape.join("x")]));
      expect(shapes(g)).toEqual(shapes(a));
      await a.close();
      // experts.N.gate_proj.weight [ff, hidden] is expert N's slice as-is
      const k = idx(ut, "model.layers.3.feed_forward.experts.77.gate_proj.weight");
      expect(await f16At(g, "blk.3.ffn_gate_exps.weight", 77 * 32 * 64 + 5 * 64 + 9)).toBeCloseTo(syntheticStoredValue(SEED, k, 5 * 64 + 9, false), 3);
    } finally {
      await g.close();
    }
  });
});
