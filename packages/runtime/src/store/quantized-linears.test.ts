import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError, SafetensorsWriter, f32ToF8E4M3, f8E4M3ToF32, type SafetensorsDType } from "@moeq/formats";
import { awqQuantizeGroups, packAwqGemm, quantizeFp8, roundToF16, unpackAwqGemm } from "@moeq/quant";
import { openSafetensorsTensors } from "./safetensors-source.js";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-qlin-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Entry = [string, SafetensorsDType, number[], ArrayBufferView];

async function write(name: string, entries: Entry[]): Promise<string> {
  const path = join(tmp, `${name}.safetensors`);
  const w = new SafetensorsWriter(path);
  for (const [n, d, s] of entries) w.addTensor(n, d, s);
  for (const [n, , , v] of entries) await w.writeTensorData(n, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  await w.finish();
  return path;
}

const rows = 16;
const cols = 128;
const weight = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 0.1);
const L = "language_model.model.layers.1";

describe("quantized safetensors Linears in the runtime store", () => {
  it("FP8 per-expert weights stack into the 3-D expert tensor; a missing expert or scale is bad input", async () => {
    const q = quantizeFp8(weight, rows, cols, "per-channel");
    const fp8 = (e: number): Entry[] => [
      [`${L}.feed_forward.experts.${e}.up_proj.weight`, "F8_E4M3", [rows, cols], q.codes],
      [`${L}.feed_forward.experts.${e}.up_proj.weight_scale`, "F32", [rows, 1], q.scales],
    ];
    const st = await openSafetensorsTensors(await write("fp8-ok", [...fp8(0), ...fp8(1)]));
    try {
      const t = st.tensors.get("blk.1.ffn_up_exps.weight")!;
      expect(t.ne).toEqual([cols, rows, 2]);
      expect(new Float32Array(t.readSlice(1).slice().buffer)[5]).toBeCloseTo(weight[5]!, 2);
    } finally {
      st.close();
    }
    await expect(openSafetensorsTensors(await write("fp8-gap", [...fp8(0), ...fp8(2)]))).rejects.toThrow(
      /blk\.1\.ffn_up_exps\.weight: experts 0\.\.1 expected, expert 1 missing/,
    );
    await expect(openSafetensorsTensors(await write("fp8-noscale", [fp8(0)[0]!]))).rejects.toThrow(InputError);
  });

  it("FP8 activations: q/k/v share the largest static input scale and per-tensor weight scale; dynamic schemes from the config", async () => {
    const parts = ["q", "k", "v"].map((p, i) => {
      const w = weight.map((v) => v * (i + 1));
      return { p, w, q: quantizeFp8(w, rows, cols, "per-tensor"), input: Float32Array.of(0.01 * (i + 1)) };
    });
    const entries: Entry[] = parts.flatMap(({ p, q, input }): Entry[] => [
      [`${L}.self_attn.${p}_proj.weight`, "F8_E4M3", [rows, cols], q.codes],
      [`${L}.self_attn.${p}_proj.weight_scale`, "F32", [1], q.scales],
      [`${L}.self_attn.${p}_proj.input_scale`, "F32", [1], input],
    ]);
    const path = await write("fp8-static", entries);
    const st = await openSafetensorsTensors(path);
    try {
      for (const n of ["attn_q", "attn_k", "attn_v"])
        expect(st.tensors.get(`blk.1.${n}.weight`)!.activations!(undefined)).toEqual({ kind: "static", scale: Math.fround(0.03) });
      // q was requantized to v's (largest) weight scale: its values lie on v's grid
      const q = new Float32Array(st.tensors.get("blk.1.attn_q.weight")!.readSlice(undefined).slice().buffer);
      const sv = parts[2]!.q.scales[0]!;
      for (const v of q) expect(Math.fround(f8E4M3ToF32(f32ToF8E4M3(v / sv)) * sv)).toBe(v);
    } finally {
      st.close();
    }
    const dynamic = await openSafetensorsTensors(path, {
      quantizationConfig: { config_groups: { group_0: { input_activations: { dynamic: true, strategy: "token" } } } },
    });
    try {
      expect(dynamic.tensors.get("blk.1.attn_k.weight")!.activations!(undefined)).toEqual({ kind: "token" });
    } finally {
      dynamic.close();
    }
    const big = Float32Array.from({ length: 256 * 256 }, (_, i) => Math.cos(i * 0.11) * 0.1);
    const qb = quantizeFp8(big, 256, 256, "block");
    const block = await openSafetensorsTensors(
      await write("fp8-block", [
        [`${L}.self_attn.o_proj.weight`, "F8_E4M3", [256, 256], qb.codes],
        [`${L}.self_attn.o_proj.weight_scale`, "F32", qb.scaleShape, qb.scales],
      ]),
    );
    try {
      expect(block.tensors.get("blk.1.attn_output.weight")!.activations!(undefined)).toEqual({ kind: "group", groupSize: 128 });
    } finally {
      block.close();
    }
    await expect(
      openSafetensorsTensors(path, { quantizationConfig: { config_groups: { g: { input_activations: { dynamic: true, strategy: "channel" } } } } }),
    ).rejects.toThrow(/strategy channel .* not supported/);
  });

  it("AWQ GEMM Linears decode to (q − z) · s; inconsistent shapes are bad input", async () => {
    const g = awqQuantizeGroups(weight, rows, cols, { bits: 4, groupSize: 64, zeroPoint: true }, roundToF16);
    const p = packAwqGemm(g.codes, g.zeros, g.scales, rows, cols, 64);
    const awq: Entry[] = [
      [`${L}.self_attn.o_proj.qweight`, "I32", [cols, rows / 8], p.qweight],
      [`${L}.self_attn.o_proj.qzeros`, "I32", [cols / 64, rows / 8], p.qzeros],
      [`${L}.self_attn.o_proj.scales`, "F16", [cols / 64, rows], p.scales],
    ];
    const st = await openSafetensorsTensors(await write("awq-ok", awq));
    try {
      const t = st.tensors.get("blk.1.attn_output.weight")!;
      expect(t.ne).toEqual([cols, rows]);
      expect(new Float32Array(t.readSlice(undefined).slice().buffer)).toEqual(g.deq);
      expect(unpackAwqGemm(p.qweight, p.qzeros, p.scales, rows, cols, 64)).toEqual(g.deq);
    } finally {
      st.close();
    }
    const bad: Entry[] = [awq[0]!, awq[1]!, [`${L}.self_attn.o_proj.scales`, "F16", [cols / 64, rows / 2], p.scales.subarray(0, p.scales.length / 2)]];
    await expect(openSafetensorsTensors(await write("awq-bad", bad))).rejects.toThrow(/do not describe one \[16, 128\] weight/);
  });
});
