import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SafetensorsWriter, bf16ToF32Row, openSafetensors } from "@moeq/formats";
import { awqInputMean, awqSearchClip, awqSearchScale, type AwqLinear, type AwqQuantOptions } from "@moeq/quant";
import { loadModel, openSafetensorsTensors, type SafetensorsTensors } from "@moeq/runtime";
import { runPythonReferee } from "@moeq/test-support/python-referee";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { collectAwqActivations, type AwqActivations } from "./awq-activations.js";
import { convertToAwq } from "./awq-convert.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const calibText = fileURLToPath(new URL("../../../../fixtures/data/brown-validation.txt", import.meta.url));
const Q: AwqQuantOptions = { bits: 4, groupSize: 128, zeroPoint: true };

let tmp: string;
let act: AwqActivations;
let st: SafetensorsTensors;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-awq-"));
  act = await collectAwqActivations(fixture, calibText, { ctx: 64, maxWindows: 2 });
  st = await openSafetensorsTensors(fixture);
});
afterAll(() => {
  st.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A BF16 fixture weight (one expert of a stacked tensor) as f32 [rows, cols]. */
function weight(name: string, expert?: number): { w: Float32Array; rows: number; cols: number } {
  const t = st.tensors.get(name)!;
  const b = t.readSlice(expert);
  return { w: bf16ToF32Row(new Uint16Array(b.slice().buffer)), rows: t.ne[1]!, cols: t.ne[0]! };
}

async function writeF32(path: string, tensors: Record<string, { data: Float32Array; shape: number[] }>): Promise<void> {
  const w = new SafetensorsWriter(path, { metadata: { format: "pt", bits: String(Q.bits), group_size: String(Q.groupSize), zero_point: String(Q.zeroPoint) } });
  for (const [k, v] of Object.entries(tensors)) w.addTensor(k, "F32", v.shape);
  for (const [k, v] of Object.entries(tensors)) await w.writeTensorData(k, new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
  await w.finish();
}

/** Our scale search and the torch referee's on the same weights and activations: same ratio, scales within 1e-5. */
async function expectSameScaleSearch(label: string, linears: AwqLinear[], x: { x: Float32Array; nTokens: number; cols: number }): Promise<void> {
  const xMean = awqInputMean(x.x, x.nTokens, x.cols);
  const ours = awqSearchScale(linears, xMean, Q);
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = { x_mean: { data: xMean, shape: [x.cols] } };
  linears.forEach((l, i) => {
    tensors[`w${i}`] = { data: l.w, shape: [l.rows, x.cols] };
    tensors[`x${i}`] = { data: l.x, shape: [l.nTokens, x.cols] };
  });
  const file = join(tmp, `${label}.safetensors`);
  await writeF32(file, tensors);
  const ref = JSON.parse(runPythonReferee("awq_reference.py", ["search", file])) as { ratio: number; scales: number[]; losses: number[] };
  expect({ label, ratio: ours.ratio }).toEqual({ label, ratio: Math.fround(ref.ratio) });
  let worst = 0;
  ref.scales.forEach((s, c) => (worst = Math.max(worst, Math.abs(s - ours.scales[c]!) / Math.max(1, Math.abs(s)))));
  expect(worst).toBeLessThan(1e-5);
  // the losses agree too (f32 GEMMs in different orders): the choice is not a near tie decided by rounding
  ref.losses.forEach((l, i) => expect(Math.abs(l - ours.losses[i]!) / l).toBeLessThan(1e-3));
}

describe("AWQ scale and clip search against the torch referee (fixture activations)", () => {
  it("input_layernorm → q, k, v (layer 0)", async () => {
    const x = act.get("blk.0.attn_q.weight")!;
    const lin = ["attn_q", "attn_k", "attn_v"].map((n) => ({ ...weight(`blk.0.${n}.weight`), x: x.x, nTokens: x.nTokens }));
    await expectSameScaleSearch("qkv", lin, x);
  });

  it("post_attention_layernorm → shared expert and every routed expert's gate/up (layer 1, experts see their own tokens)", async () => {
    const x = act.get("blk.1.ffn_gate_inp.weight")!;
    const lin: AwqLinear[] = [];
    for (const n of ["ffn_gate_shexp", "ffn_up_shexp"]) lin.push({ ...weight(`blk.1.${n}.weight`), x: x.x, nTokens: x.nTokens });
    for (let e = 0; e < 4; e++) {
      const xe = act.get("blk.1.ffn_gate_exps.weight", e);
      if (!xe) continue;
      for (const n of ["ffn_gate_exps", "ffn_up_exps"]) lin.push({ ...weight(`blk.1.${n}.weight`, e), x: xe.x, nTokens: xe.nTokens });
    }
    expect(lin.length).toBeGreaterThan(4);
    await expectSameScaleSearch("moe-gate-up", lin, x);
  });

  it("up → down (layer 1 shared expert) and the clip search on that down_proj", async () => {
    const x = act.get("blk.1.ffn_down_shexp.weight")!;
    const down = { ...weight("blk.1.ffn_down_shexp.weight"), x: x.x, nTokens: x.nTokens };
    await expectSameScaleSearch("shared-down", [down], x);
    const ours = awqSearchClip(down, down.cols, Q);
    const file = join(tmp, "clip.safetensors");
    await writeF32(file, { w: { data: down.w, shape: [down.rows, down.cols] }, x: { data: x.x, shape: [x.nTokens, x.cols] } });
    const ref = (JSON.parse(runPythonReferee("awq_reference.py", ["clip", file])) as { max_val: number[] }).max_val;
    expect(ref).toHaveLength(ours.length);
    let mismatches = 0;
    ref.forEach((m, i) => {
      if (Math.abs(m - ours[i]!) > 1e-6 * m) mismatches++;
    });
    expect(mismatches).toBe(0);
  });
});

describe("moeq awq output", () => {
  let ckpt: string;
  beforeAll(() => {
    ckpt = join(tmp, "synthetic");
    writeSyntheticLlama4(ckpt, {
      layout: "maverick",
      hidden: 128,
      ffExpert: 128,
      ffDense: 256,
      layers: 2,
      experts: 4,
      heads: 2,
      kvHeads: 1,
      headDim: 64,
      seed: 11,
    });
  });

  it("AutoAWQ GEMM tensors the layout-spec dequantizer decodes to exactly our runtime's weights; router and norms rescaled in BF16", async () => {
    const out = join(tmp, "awq-synthetic");
    const s = await convertToAwq(ckpt, out, { data: calibText, ctx: 64, maxWindows: 2 });
    expect(s.method).toBe("awq");
    // q,k,v + gate/up + down per layer; v→o skipped (grouped heads); MoE layer: shared + 4 experts' down
    expect(s.groups.map((g) => g.group)).toContain("post_attention_layernorm→router,shared,experts gate/up");
    expect(s.groups.some((g) => g.group === "v→o")).toBe(false);
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8")).quantization_config;
    expect(config).toMatchObject({ quant_method: "awq", bits: 4, group_size: 128, zero_point: true, version: "gemm" });
    const refFile = join(tmp, "awq-dequant.safetensors");
    runPythonReferee("awq_reference.py", ["dequant", out, refFile]);
    const ours = await openSafetensorsTensors(out);
    const ref = await openSafetensors(refFile);
    try {
      const check = async (module: string, gguf: string, expert?: number) => {
        const want = new Uint8Array(await ref.readBytes(`${module}.weight`));
        expect(Buffer.from(ours.tensors.get(gguf)!.readSlice(expert)).equals(Buffer.from(want))).toBe(true);
      };
      expect(ref.tensors.size).toBe(s.quantizedMatrices);
      await check("language_model.model.layers.0.self_attn.q_proj", "blk.0.attn_q.weight");
      await check("language_model.model.layers.0.feed_forward.down_proj", "blk.0.ffn_down.weight");
      await check("language_model.model.layers.1.feed_forward.shared_expert.up_proj", "blk.1.ffn_up_shexp.weight");
      for (let e = 0; e < 4; e++) await check(`language_model.model.layers.1.feed_forward.experts.${e}.down_proj`, "blk.1.ffn_down_exps.weight", e);
    } finally {
      ours.close();
      await ref.close();
    }
    // router · diag(norm gain) is what routing sees: unchanged up to BF16 rounding
    const src = await openSafetensorsTensors(ckpt);
    const dst = await openSafetensorsTensors(out);
    try {
      const f32 = (t: SafetensorsTensors, n: string) => bf16ToF32Row(new Uint16Array(t.tensors.get(n)!.readSlice(undefined).slice().buffer));
      const [r0, r1, n0, n1] = [
        f32(src, "blk.1.ffn_gate_inp.weight"),
        f32(dst, "blk.1.ffn_gate_inp.weight"),
        f32(src, "blk.1.ffn_norm.weight"),
        f32(dst, "blk.1.ffn_norm.weight"),
      ];
      expect(Array.from(n1).some((v, c) => Math.abs(v - n0[c]!) > 1e-3 * Math.abs(n0[c]!))).toBe(true); // the gain did change
      for (let i = 0; i < r0.length; i++) {
        const c = i % 128;
        expect(Math.abs(r1[i]! * n1[c]! - r0[i]! * n0[c]!)).toBeLessThanOrEqual(0.02 * Math.abs(r0[i]! * n0[c]!) + 1e-6);
      }
    } finally {
      src.close();
      dst.close();
    }
    const m = await loadModel(out);
    try {
      const logits = await m.logits(m.tokenize("The jury said", { addBos: true }));
      expect(logits.every(Number.isFinite)).toBe(true);
    } finally {
      await m.close();
    }
  });

  it("--rtn writes the same layout without calibration", async () => {
    const s = await convertToAwq(ckpt, join(tmp, "rtn-synthetic"), { rtn: true });
    expect(s).toMatchObject({ method: "rtn", groups: [], quantizedMatrices: 2 * 7 + 4 * 3 - 0 });
  });
});
