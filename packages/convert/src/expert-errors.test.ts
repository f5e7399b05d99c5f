import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGMLType, f16ToF32Row, openGguf, parseGGMLType } from "@moeq/formats";
import { dequantize, quantize } from "@moeq/quant";
import { writeSyntheticLlama4 } from "@moeq/test-support/synthetic-llama4";
import { convertHfToGguf } from "./convert-hf.js";
import { quantizeGguf } from "./quantize-gguf.js";
import { LlamaFType } from "./ftype.js";
import { expertErrorKey, type ExpertErrorRow } from "./expert-errors.js";

let tmp: string;
let f16: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-experr-"));
  writeSyntheticLlama4(join(tmp, "ckpt"), { layout: "scout", hidden: 256, ffExpert: 256, layers: 2, experts: 4, headDim: 64, seed: 5 });
  f16 = join(tmp, "f16.gguf");
  await convertHfToGguf(join(tmp, "ckpt"), f16, { outtype: LlamaFType.MOSTLY_F16 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** RMSE of quantizing `src` (one expert slice, rows of nPerRow) to `type` and decoding it again, computed directly. */
function directRmse(type: GGMLType, src: Float32Array, nPerRow: number): number {
  const back = dequantize(type, quantize(type, src, src.length / nPerRow, nPerRow), src.length);
  let s = 0;
  for (let i = 0; i < src.length; i++) s += (src[i] - back[i]) ** 2;
  return Math.sqrt(s / src.length);
}

describe("--expert-errors", () => {
  it("expertErrorKey splits blk.N. and .weight", () => {
    expect(expertErrorKey("blk.12.ffn_down_exps.weight")).toEqual({ layer: 12, tensor: "ffn_down_exps" });
    expect(expertErrorKey("token_embd.weight")).toEqual({ layer: -1, tensor: "token_embd" });
  });

  it("quantize: one row per (tensor, expert), RMSE equal to a direct quantize → dequantize of each expert slice", async () => {
    const out = join(tmp, "q4km.gguf");
    const errPath = join(tmp, "errors.json");
    const s = await quantizeGguf(f16, out, { ftype: LlamaFType.MOSTLY_Q4_K_M, expertErrorsPath: errPath });
    const rows = JSON.parse(readFileSync(errPath, "utf8")) as ExpertErrorRow[];
    expect(rows).toEqual(s.expertErrors);
    for (const r of rows) expect(Object.keys(r).sort()).toEqual(["expert", "layer", "rmse", "tensor"]);
    const exps = rows.filter((r) => r.tensor.endsWith("_exps"));
    expect(exps.length).toBe(2 * 3 * 4); // layers × {gate, up, down} × experts
    expect(rows.filter((r) => r.expert === -1).length).toBe(s.tensors.length - 2 * 3);

    const src = await openGguf(f16);
    try {
      for (const t of s.tensors) {
        if (!t.name.includes("_exps") && t.name !== "blk.1.attn_q.weight" && t.name !== "token_embd.weight") continue;
        const info = src.tensor(t.name)!;
        expect(info.type).toBe(GGMLType.F16);
        const raw = await src.readTensorBytes(t.name);
        const all = f16ToF32Row(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2));
        const nExp = t.ne.length >= 3 ? t.ne[2] : 1;
        const per = all.length / nExp;
        const { layer, tensor } = expertErrorKey(t.name);
        for (let e = 0; e < nExp; e++) {
          const row = rows.find((r) => r.layer === layer && r.tensor === tensor && r.expert === (nExp > 1 ? e : -1))!;
          const want = directRmse(parseGGMLType(t.type)!, all.subarray(e * per, (e + 1) * per), t.ne[0]);
          expect(row.rmse, `${t.name} expert ${e}`).toBeCloseTo(want, 12);
          expect(row.rmse).toBeGreaterThan(0);
        }
      }
    } finally {
      await src.close();
    }
    // norms and the router are copied unchanged (F32 → F32): error 0
    expect(rows.find((r) => r.tensor === "attn_norm" && r.layer === 0)!.rmse).toBe(0);
  });

  it("convert: a row per expert in file order, exact F32 tensors at 0; without the option no rows and the same bytes", async () => {
    const errPath = join(tmp, "conv-errors.json");
    const s = await convertHfToGguf(join(tmp, "ckpt"), join(tmp, "conv-q4_0.gguf"), { outtype: LlamaFType.MOSTLY_Q4_0, expertErrorsPath: errPath });
    const rows = JSON.parse(readFileSync(errPath, "utf8")) as ExpertErrorRow[];
    expect(rows.filter((r) => r.tensor === "ffn_down_exps").map((r) => [r.layer, r.expert])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 0],
      [1, 1],
      [1, 2],
      [1, 3],
    ]);
    // F32-kept tensors (norms) are exact; Q4_0 experts are not
    expect(rows.find((r) => r.tensor === "ffn_norm" && r.layer === 1)!.rmse).toBe(0);
    expect(Math.min(...rows.filter((r) => r.tensor.endsWith("_exps")).map((r) => r.rmse))).toBeGreaterThan(0);
    expect(s.expertErrors).toEqual(rows);
    const plain = await convertHfToGguf(join(tmp, "ckpt"), join(tmp, "conv-q4_0-b.gguf"), { outtype: LlamaFType.MOSTLY_Q4_0 });
    expect(plain.expertErrors).toBeUndefined();
    expect(readFileSync(join(tmp, "conv-q4_0.gguf")).equals(readFileSync(join(tmp, "conv-q4_0-b.gguf")))).toBe(true);
  });
});
