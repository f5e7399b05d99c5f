import { describe, expect, it } from "vitest";
import { InputError } from "@moeq/formats";
import { llama4ConfigFromGguf, llama4ConfigFromHf, ropeInvFreq } from "./config.js";

const text = {
  hidden_size: 256,
  intermediate_size: 256,
  intermediate_size_mlp: 512,
  num_hidden_layers: 8,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 64,
  num_local_experts: 4,
  num_experts_per_tok: 1,
  interleave_moe_layer_step: 2,
  vocab_size: 3200,
  rope_theta: 500000,
  attention_chunk_size: 8192,
  floor_scale: 8192,
  attn_scale: 0.1,
  use_qk_norm: true,
  attn_temperature_tuning: true,
};

describe("llama4ConfigFromHf", () => {
  it("derives MoE and NoPE layers like Llama4TextConfig when the lists are absent", () => {
    const c = llama4ConfigFromHf({ text_config: text }, "config.json");
    expect(c.moeLayers).toEqual([false, true, false, true, false, true, false, true]);
    expect(c.ropeLayers).toEqual([true, true, true, false, true, true, true, false]);
    expect(c.expertFfSize).toBe(256);
    expect(c.denseFfSize).toBe(512);
  });

  it("honours a variant config's chunk size and floor scale instead of llama.cpp's hard-coded 8192", () => {
    const c = llama4ConfigFromHf({ text_config: { ...text, attention_chunk_size: 32, floor_scale: 16 } }, "variant.json");
    expect(c.attentionChunkSize).toBe(32);
    expect(c.floorScale).toBe(16);
  });

  it("rejects a config whose head counts do not divide, naming the file", () => {
    expect(() => llama4ConfigFromHf({ text_config: { ...text, num_key_value_heads: 3 } }, "bad.json")).toThrow(/bad\.json.*num_key_value_heads/);
    expect(() => llama4ConfigFromHf({ text_config: { ...text, hidden_size: undefined } }, "x.json")).toThrow(InputError);
  });
});

describe("llama4ConfigFromGguf", () => {
  const kv = (extra: Record<string, unknown> = {}) => {
    const m: Record<string, unknown> = {
      "general.architecture": "llama4",
      "llama4.block_count": 8,
      "llama4.embedding_length": 256,
      "llama4.attention.head_count": 4,
      "llama4.attention.head_count_kv": 2,
      "llama4.attention.key_length": 64,
      "llama4.expert_count": 16,
      "llama4.expert_used_count": 1,
      "llama4.interleave_moe_layer_step": 2,
      "llama4.expert_feed_forward_length": 256,
      "llama4.feed_forward_length": 512,
      "llama4.rope.freq_base": 500000,
      "llama4.attention.layer_norm_rms_epsilon": 1e-5,
      "llama4.context_length": 4096,
      ...extra,
    };
    return (k: string) => m[k];
  };

  it("reproduces llama.cpp's hard-coded Llama 4 hparams", () => {
    const c = llama4ConfigFromGguf(kv(), "m.gguf", 3200);
    expect(c.attentionChunkSize).toBe(8192);
    expect(c.floorScale).toBe(8192);
    expect(c.attnScale).toBe(0.1);
    expect(c.attnTemperatureTuning).toBe(true);
    expect(c.useQkNorm).toBe(true);
    expect(c.ropeLayers).toEqual([true, true, true, false, true, true, true, false]);
    expect(c.moeLayers).toEqual([false, true, false, true, false, true, false, true]);
  });

  it("derives qk-norm from the expert count (off for 128 experts, as for Maverick)", () => {
    expect(llama4ConfigFromGguf(kv({ "llama4.expert_count": 128 }), "m.gguf", 3200).useQkNorm).toBe(false);
  });

  it("treats sliding_window = 0 as no chunking with only the last layer NoPE (llama.cpp quirk)", () => {
    const c = llama4ConfigFromGguf(kv({ "llama4.attention.sliding_window": 0 }), "m.gguf", 3200);
    expect(c.attentionChunkSize).toBeNull();
    expect(c.ropeLayers).toEqual([true, true, true, true, true, true, true, false]);
  });

  it("rejects a non-llama4 file", () => {
    expect(() => llama4ConfigFromGguf(kv({ "general.architecture": "llama" }), "m.gguf", 3200)).toThrow(/m\.gguf.*llama4/);
  });
});

describe("ropeInvFreq", () => {
  const base = llama4ConfigFromHf({ text_config: text }, "c.json");

  it("guards the empty llama3 blend band (low == high freq factor) instead of dividing 0 by 0", () => {
    const c = { ...base, ropeScaling: { factor: 16, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositionEmbeddings: 8192 } };
    const inv = ropeInvFreq(c);
    const plain = ropeInvFreq({ ...base, ropeScaling: null });
    for (let i = 0; i < inv.length; i++) {
      expect(Number.isFinite(inv[i])).toBe(true);
      const wavelen = (2 * Math.PI) / plain[i];
      expect(inv[i]).toBe(wavelen > 8192 ? Math.fround(plain[i] / 16) : plain[i]);
    }
    expect(inv.some((v, i) => v !== plain[i])).toBe(true);
  });

  it("blends smoothly inside the band like transformers' _compute_llama3_parameters", () => {
    const rs = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
    const inv = ropeInvFreq({ ...base, ropeScaling: rs });
    const plain = ropeInvFreq({ ...base, ropeScaling: null });
    let blended = 0;
    for (let i = 0; i < inv.length; i++) {
      const wl = (2 * Math.PI) / plain[i];
      if (wl < 2048 || wl > 8192) continue;
      const s = (8192 / wl - 1) / 3;
      expect(inv[i]).toBeCloseTo((1 - s) * (plain[i] / 8) + s * plain[i], 9);
      blended++;
    }
    expect(blended).toBeGreaterThan(0);
  });

  it("divides by GGUF rope_freqs factors", () => {
    const ff = new Float32Array(32).fill(2);
    const inv = ropeInvFreq(base, ff);
    const plain = ropeInvFreq({ ...base, ropeScaling: null });
    expect(inv[5]).toBe(Math.fround(plain[5] / 2));
    expect(() => ropeInvFreq(base, new Float32Array(3))).toThrow(/rope_freqs/);
  });
});
