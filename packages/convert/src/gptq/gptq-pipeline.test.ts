// `gptqConvert` end to end on the fixture: the folder layout vLLM / Transformers expect, the report and resuming
// by layer. The runtime reading the result is checked against llama.cpp in packages/cli/src/gptq-llama-cpp.test.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "@moeq/runtime";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import type { GptqSummary } from "./gptq-pipeline.js";
import { gptqConvert } from "./gptq-pipeline.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const fx = join(root, "fixtures/tiny-llama4");
const calib = join(root, "fixtures/data/brown-validation.txt");
let work: string;
let run: GptqSummary;

/** A small text-only Scout-layout checkpoint (hidden 64) for the synthetic-checkpoint tests. */
const writeSmallScout = (dir: string, o: { layers: number; experts: number; seed: number; perExpert?: boolean }) =>
  writeSyntheticLlama4(dir, { layout: "scout", hidden: 64, ffExpert: 64, ffDense: 128, heads: 4, kvHeads: 2, multimodal: false, ...o });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "moeq-gptq-"));
  run = await gptqConvert(fx, join(work, "out"), calib, { nsamples: 4, seqlen: 128 });
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("gptqConvert on tiny-llama4", () => {
  it("writes a GPTQ v1 folder with unfused per-expert names and the configs", () => {
    const out = join(work, "out");
    expect(existsSync(`${out}.partial`)).toBe(false);
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
    const names = Object.keys(index.weight_map);
    for (const p of ["qweight", "qzeros", "scales", "g_idx"]) {
      expect(names).toContain(`language_model.model.layers.1.feed_forward.experts.3.down_proj.${p}`);
      expect(names).toContain(`language_model.model.layers.0.self_attn.q_proj.${p}`);
    }
    expect(names).toContain("language_model.model.layers.1.feed_forward.router.weight");
    expect(names).toContain("language_model.lm_head.weight");
    expect(names.some((n) => n.includes("experts.gate_up_proj"))).toBe(false);
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8")) as { quantization_config: Record<string, unknown> };
    expect(cfg.quantization_config).toMatchObject({ quant_method: "gptq", checkpoint_format: "gptq", bits: 4, group_size: 128, desc_act: false, sym: false });
    expect(JSON.parse(readFileSync(join(out, "quantize_config.json"), "utf8"))).toEqual(cfg.quantization_config);
    expect(existsSync(join(out, "tokenizer.json"))).toBe(true);
    expect(run.report.notConverted).toContain("language_model.model.embed_tokens.weight");
    expect(run.report.notConverted).toContain("multi_modal_projector.linear_1.weight");
    // Each dense Linear saw every calibration token once (the taps report a down_proj input once, not twice).
    const layer0 = run.report.layers[0].linears;
    expect(new Set(layer0.map((r) => r.tokens))).toEqual(new Set([4 * 128]));
    // GPTQ's objective ½Σ(w−ŵ)ᵀH(w−ŵ) is below round-to-nearest's on the same H for every Linear.
    for (const r of run.report.layers.flatMap((l) => l.linears)) expect(r.gptqError!, r.module).toBeLessThan(r.rtnError!);
  });

  it("resumes a killed run at the next layer and writes the same bytes, on 2 worker threads as on 1", async () => {
    const out = join(work, "resumed");
    const kill = new Error("killed");
    await expect(
      gptqConvert(fx, out, calib, {
        nsamples: 4,
        seqlen: 128,
        onProgress: (_d, _t, label) => {
          if (label === "layer 2 calibrated") throw kill;
        },
      }),
    ).rejects.toBe(kill);
    expect(existsSync(`${out}.partial/model-00002-of-00005.safetensors`)).toBe(true);
    expect(existsSync(out)).toBe(false);
    const again = await gptqConvert(fx, out, calib, { nsamples: 4, seqlen: 128, threads: 2 });
    expect(again.resumedLayers).toBe(2);
    expect([run.threadsUsed, again.threadsUsed]).toEqual([1, 2]); // both workers solved Linears
    for (const f of run.files.filter((n) => n.endsWith(".safetensors"))) {
      expect(readFileSync(join(out, f)).equals(readFileSync(join(work, "out", f))), f).toBe(true);
    }
    expect(again.report.layers).toEqual(run.report.layers);
  }, 300_000);

  it("reads a checkpoint with unfused per-expert weights, keeps excluded experts BF16, and the runtime loads both", async () => {
    const src = join(work, "unfused-src");
    writeSmallScout(src, { layers: 2, experts: 4, perExpert: true, seed: 3 });
    const out = join(work, "unfused-out");
    const s = await gptqConvert(src, out, calib, { nsamples: 2, seqlen: 64, groupSize: 32, exclude: ["experts\\.2\\."] });
    const names = Object.keys(
      (JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> }).weight_map,
    );
    expect(names).toContain("model.layers.1.feed_forward.experts.3.up_proj.qweight");
    expect(names).toContain("model.layers.1.feed_forward.experts.2.up_proj.weight");
    expect(names).not.toContain("model.layers.1.feed_forward.experts.3.up_proj.weight");
    expect(s.report.notConverted.some((n) => n.includes("experts."))).toBe(false);
    expect(s.report.layers[1].linears.filter((r) => r.method === "bf16").map((r) => r.module)).toEqual([
      "model.layers.1.feed_forward.experts.2.gate_proj",
      "model.layers.1.feed_forward.experts.2.up_proj",
      "model.layers.1.feed_forward.experts.2.down_proj",
    ]);
    const ids = [1, 2, 3, 4, 5];
    const a = await loadModel(src);
    const b = await loadModel(out);
    const [la, lb] = [await a.logits(ids), await b.logits(ids)];
    await a.close();
    await b.close();
    expect(lb.length).toBe(la.length);
    let num = 0,
      den = 0;
    for (let i = 0; i < la.length; i++) {
      num += (la[i] - lb[i]) ** 2;
      den += la[i] ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(0.2);
  }, 300_000);

  it("--rtn (no calibration text) rounds every Linear of every layer to nearest", async () => {
    const src = join(work, "rtn-src");
    writeSmallScout(src, { layers: 3, experts: 2, seed: 5 });
    const out = join(work, "rtn-out");
    const s = await gptqConvert(src, out, null, { rtn: true, groupSize: 32 });
    expect(s.report.layers).toHaveLength(3);
    const methods = new Set(s.report.layers.flatMap((l) => l.linears.map((r) => r.method)));
    expect(methods).toEqual(new Set(["rtn"]));
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8")) as { quantization_config: { meta: { method: string } } };
    expect(cfg.quantization_config.meta.method).toBe("rtn");
    const m = await loadModel(out);
    const logits = await m.logits([1, 2, 3]);
    await m.close();
    expect(logits.every(Number.isFinite)).toBe(true);
  }, 300_000);
});
