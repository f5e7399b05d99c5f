import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "@moeq/formats";
import { loadModel } from "./model.js";
import { llama4ConfigFromHf } from "./llama4/config.js";
import { Llama4TextModel } from "./llama4/text-model.js";
import { WeightStore } from "./store/weight-store.js";
import { openSafetensorsTensors } from "./store/safetensors-source.js";
import type { ActivationEvent } from "./llama4/taps.js";
import type { WeightMatrix } from "./ops/weight-matrix.js";
import { writeRandomCheckpoint } from "@moeq/test-support/random-checkpoint";
import { patternPng } from "@moeq/test-support/pattern-png";

let dir: string;
let ckpt: string;
const prompt = [3072, 84, 104, 101, 32, 106, 117, 114, 121, 32, 115, 97, 105, 100, 500, 900, 1200, 33, 44, 2000];

async function textModel(path: string, budget?: number): Promise<Llama4TextModel> {
  const cfg = llama4ConfigFromHf(JSON.parse(readFileSync(join(path, "config.json"), "utf8")), path);
  const st = await openSafetensorsTensors(path);
  return new Llama4TextModel(cfg, new WeightStore(path, st.tensors, { memoryBudgetBytes: budget }, st.close));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "moeq-runtime-"));
  ckpt = join(dir, "hf");
  writeRandomCheckpoint(ckpt, { seed: 7 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("weight store", () => {
  it("keeps resident weights within the memory budget and still computes the same logits", async () => {
    const full = await textModel(ckpt);
    const tight = await textModel(ckpt, 200_000);
    const a = full.forward(prompt);
    const b = tight.forward(prompt);
    expect(tight.store.residentBytes).toBeLessThanOrEqual(200_000);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it("names the file and tensor when a tensor is missing", async () => {
    const st = await openSafetensorsTensors(ckpt);
    const s = new WeightStore(ckpt, st.tensors, {}, st.close);
    expect(() => s.matrix("blk.0.nope.weight")).toThrow(/hf: tensor blk\.0\.nope\.weight is missing/);
    s.close();
  });
});

describe("Llama4 text forward", () => {
  it("decodes with the KV cache to the same logits as one batched pass", async () => {
    const batched = (await textModel(ckpt)).forward(prompt);
    const m = await textModel(ckpt);
    const V = 3200;
    const first = m.forward(prompt.slice(0, 11));
    let max = 0;
    for (let i = 0; i < first.length; i++) max = Math.max(max, Math.abs(first[i] - batched[i]));
    for (let t = 11; t < prompt.length; t++) {
      const row = m.forward([prompt[t]], { logitsFor: "last" });
      for (let i = 0; i < V; i++) max = Math.max(max, Math.abs(row[i] - batched[t * V + i]));
    }
    expect(max).toBeLessThan(1e-4);
  });

  it("respects chunked attention: a token after a chunk boundary ignores the previous chunk on RoPE layers", async () => {
    // chunk 4 with every layer RoPE+chunked: position 4 sees only itself, so changing tokens 0..3 cannot change its logits
    const cfg = llama4ConfigFromHf(
      {
        ...JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")),
        text_config: {
          ...JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")).text_config,
          attention_chunk_size: 4,
          no_rope_layers: [1, 1, 1, 1],
        },
      },
      "c",
    );
    const st = await openSafetensorsTensors(ckpt);
    const m = new Llama4TextModel(cfg, new WeightStore(ckpt, st.tensors, {}, st.close));
    const a = m.forward([1, 2, 3, 4, 50, 60]);
    m.cache.reset();
    const b = m.forward([9, 8, 7, 6, 50, 60]);
    m.cache.reset();
    const c = m.forward([9, 8, 7, 6, 51, 60]);
    const V = 3200;
    expect(Array.from(b.subarray(5 * V, 6 * V))).toEqual(Array.from(a.subarray(5 * V, 6 * V)));
    expect(Array.from(c.subarray(5 * V, 6 * V))).not.toEqual(Array.from(a.subarray(5 * V, 6 * V)));
  });

  it("reports the rows each linear and each routed expert saw through the tap", async () => {
    const m = await textModel(ckpt);
    const events: ActivationEvent[] = [];
    m.setTap((ev) => events.push({ ...ev, rows: ev.rows.slice() }));
    m.forward(prompt);
    const n = prompt.length;
    const q0 = events.find((e) => e.tensor === "blk.0.attn_q.weight")!;
    expect([q0.nRows, q0.nCols]).toEqual([n, 128]);
    const gates = events.filter((e) => e.tensor === "blk.1.ffn_gate_exps.weight");
    expect(gates.reduce((s, e) => s + e.nRows, 0)).toBe(n); // top-1: every token reaches exactly one expert
    for (const e of gates) {
      expect(e.expert).toBeGreaterThanOrEqual(0);
      expect(e.tokenIndex!.length).toBe(e.nRows);
      const w = e.routerWeight![0];
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThan(1);
    }
    const downs = events.filter((e) => e.tensor === "blk.3.ffn_down_exps.weight");
    expect(downs.every((e) => e.nCols === 128)).toBe(true);
    expect(events.some((e) => e.tensor === "output.weight")).toBe(true);
    expect(events.some((e) => e.tensor === "blk.0.ffn_down.weight" && e.nCols === 256)).toBe(true);
    // one event per dense weight per forward (the dense ffn_down input was once handed over twice)
    const dense = events.filter((e) => e.expert === undefined).map((e) => e.tensor);
    expect(new Set(dense).size).toBe(dense.length);
  });

  it("runs each routed expert's matmuls once per prompt over all its tokens, as MUL_MAT_ID groups them", async () => {
    const m = await textModel(ckpt);
    const calls: { w: WeightMatrix; n: number }[] = [];
    const inner = m.ops.expertMatmul;
    m.ops.expertMatmul = (w, x, n, out) => {
      calls.push({ w, n });
      inner(w, x, n, out);
    };
    m.forward(prompt);
    let moeLayers = 0;
    for (let l = 0; l < m.config.numLayers; l++) {
      if (!m.config.moeLayers[l]) continue;
      moeLayers++;
      let rows = 0;
      for (let e = 0; e < m.config.numExperts; e++) {
        for (const t of ["gate", "up", "down"]) {
          const w = m.store.matrix(`blk.${l}.ffn_${t}_exps.weight`, e);
          const c = calls.filter((k) => k.w === w);
          expect(c.length).toBeLessThanOrEqual(1);
          if (t === "gate") rows += c[0]?.n ?? 0;
        }
      }
      expect(rows).toBe(prompt.length * m.config.expertsPerToken);
    }
    expect(moeLayers).toBeGreaterThan(0);
  });

  it("rejects token ids outside the vocabulary with the file name", async () => {
    const hf = await loadModel(ckpt);
    await expect(hf.logits([1, 99999])).rejects.toThrow(InputError);
    await expect(hf.logits([])).rejects.toThrow(/no tokens/);
    await hf.close();
  });

  it("generates greedily the argmax continuation and stops at maxTokens", async () => {
    const hf = await loadModel(ckpt);
    const seen: number[] = [];
    const out = await hf.generate(prompt.slice(0, 8), { maxTokens: 5, onToken: (id) => seen.push(id) });
    expect(out).toEqual(seen);
    expect(out.length).toBeLessThanOrEqual(5);
    const all = await hf.logits([...prompt.slice(0, 8), ...out.slice(0, -1)]);
    const V = hf.vocabSize;
    out.forEach((id, i) => {
      const row = all.subarray((7 + i) * V, (8 + i) * V);
      expect(row[id]).toBe(Math.max(...row));
    });
    const s1 = await hf.generate(prompt.slice(0, 8), { maxTokens: 6, temperature: 1, seed: 3 });
    const s2 = await hf.generate(prompt.slice(0, 8), { maxTokens: 6, temperature: 1, seed: 3 });
    expect(s1).toEqual(s2);
    await hf.close();
  });
});

describe("vision", () => {
  it("expands <|image|> for the tiling and fills the <|patch|> rows with image features", async () => {
    const vdir = join(dir, "vision");
    writeRandomCheckpoint(vdir, { seed: 3, vision: true });
    const m = await loadModel(vdir);
    const bytes = patternPng(150, 60);
    const text = m.expandImagePrompt("<|image|>What is it?", bytes);
    // 150×60 on 64-px tiles → best fit 1×3 grid (+ global tile); 4 tokens per tile
    expect(text.startsWith("<|image_start|>" + "<|patch|>".repeat(4) + "<|tile_x_separator|>")).toBe(true);
    const ids = m.tokenize(text, { addBos: true });
    expect(ids.filter((t) => t === 3164).length).toBe(16);
    const withImage = await m.logits(ids, { image: bytes });
    const without = await m.logits(ids);
    expect(withImage.length).toBe(ids.length * 3200);
    expect(Array.from(withImage.subarray(0, 3200))).toEqual(Array.from(without.subarray(0, 3200))); // BOS row precedes the image
    expect(Array.from(withImage.subarray(-3200))).not.toEqual(Array.from(without.subarray(-3200)));
    await expect(m.logits(ids.slice(0, 10), { image: bytes })).rejects.toThrow(/<\|patch\|> tokens/);

    await m.close();
  });
});
