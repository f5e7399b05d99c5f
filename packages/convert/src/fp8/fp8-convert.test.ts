import { describe, it, expect } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { f32ToF8E4M3, f8E4M3ToF32, openSafetensors, type SafetensorsCheckpoint } from "@moeq/formats";
import { absMax, dequantizeFp8, fp8ScaleFromAbsMax, fp8SchemeOfScaleShape, type Fp8Scheme } from "@moeq/quant";
import { loadModel, openSafetensorsTensors } from "@moeq/runtime";
import { runPythonReferee } from "@moeq/test-support/python-referee";
import { suiteTempDir } from "@moeq/test-support/suite-temp-dir";
import { calibrationWindows } from "../calibration.js";
import { convertToFp8 } from "./fp8-convert.js";

const fixture = fileURLToPath(new URL("../../../../fixtures/tiny-llama4", import.meta.url));
const calibText = fileURLToPath(new URL("../../../../fixtures/data/brown-validation.txt", import.meta.url));

const work = suiteTempDir("moeq-fp8-");

async function withCheckpoint<T>(path: string, f: (c: SafetensorsCheckpoint) => Promise<T>): Promise<T> {
  const c = await openSafetensors(path);
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Every quantized tensor of `ours` equals the NumPy referee's bytes; the quantized name sets are equal. */
async function expectMatchesReferee(ours: string, refFile: string): Promise<number> {
  return withCheckpoint(ours, (o) =>
    withCheckpoint(refFile, async (r) => {
      const quantized = [...o.tensors.values()].filter((t) => t.dtype === "F8_E4M3" || t.name.endsWith(".weight_scale")).map((t) => t.name);
      expect(quantized.sort()).toEqual([...r.tensors.keys()].sort());
      for (const name of quantized) {
        const diff = firstDifference(await o.readBytes(name), await r.readBytes(name));
        expect({ name, diff }).toEqual({ name, diff: -1 });
      }
      return quantized.length;
    }),
  );
}

describe("E4M3 codec against the NumPy referee", () => {
  it("decodes all 256 codes to the same values and re-encodes every finite value to its own code", () => {
    const ref = JSON.parse(runPythonReferee("fp8_reference.py", ["roundtrip"])) as { values: (number | null)[]; codes: number[] };
    for (let b = 0; b < 256; b++) {
      const v = f8E4M3ToF32(b);
      if (ref.values[b] === null) expect(Number.isNaN(v)).toBe(true);
      else expect(Object.is(v, ref.values[b]) || (v === 0 && ref.values[b] === 0)).toBe(true);
      if (ref.values[b] !== null) {
        expect(f32ToF8E4M3(v)).toBe(b);
        expect(ref.codes[b]).toBe(b);
      }
    }
  });
});

describe("moeq fp8 on the fixture", () => {
  for (const scheme of ["per-tensor", "per-channel", "block"] as Fp8Scheme[]) {
    it(`${scheme}: weights and scales byte-identical to the NumPy referee; everything else copied`, async () => {
      const out = join(work.path, scheme);
      const s = await convertToFp8(fixture, out, { scheme });
      const refFile = join(work.path, `ref-${scheme}.safetensors`);
      runPythonReferee("fp8_reference.py", ["quantize", fixture, scheme, refFile]);
      // 4 layers × (q, k, v, o + 3 FFN), 2 MoE layers × 4 experts × 3: 28 + 24 matrices
      expect(s.quantizedMatrices).toBe(52);
      expect(await expectMatchesReferee(out, refFile)).toBe(2 * 52);
      await withCheckpoint(out, (o) =>
        withCheckpoint(fixture, async (src) => {
          for (const t of src.tensors.values()) {
            if (/_proj(\.weight)?$/.test(t.name) && !/vision_model|multi_modal_projector/.test(t.name)) continue;
            expect(firstDifference(await o.readBytes(t.name), await src.readBytes(t.name))).toBe(-1);
          }
          for (const t of o.tensors.values())
            if (t.name.endsWith(".weight_scale"))
              expect(fp8SchemeOfScaleShape(t.shape, ...(o.tensors.get(t.name.replace(/_scale$/, ""))!.shape as [number, number]))).toBe(scheme);
        }),
      );
      const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
      expect(config.quantization_config.quant_method).toBe("compressed-tensors");
      expect(config.quantization_config.format).toBe("float-quantized");
      expect(config.quantization_config.config_groups.group_0.weights.strategy).toBe(
        { "per-tensor": "tensor", "per-channel": "channel", block: "block" }[scheme],
      );
      expect(config.quantization_config.ignore).toContain("re:.*feed_forward\\.router");
      expect(config.text_config).toEqual(JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")).text_config);
      for (const f of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "preprocessor_config.json", "generation_config.json"]) {
        expect(readFileSync(join(out, f))).toEqual(readFileSync(join(fixture, f)));
      }
    });
  }

  it("the runtime loads the output: each weight is e4m3⁻¹(code) · scale, and logits stay close to BF16", async () => {
    const out = join(work.path, "per-channel");
    const st = await openSafetensorsTensors(out);
    try {
      await withCheckpoint(out, async (o) => {
        const check = async (hfBase: string, gguf: string, expert?: number) => {
          const w = o.tensors.get(`${hfBase}.weight`)!;
          const [rows, cols] = w.shape as [number, number];
          const scales = new Float32Array((await o.readBytes(`${hfBase}.weight_scale`)).slice().buffer);
          const expected = dequantizeFp8(await o.readBytes(`${hfBase}.weight`), rows, cols, "per-channel", scales);
          expect(st.tensors.get(gguf)!.ne.slice(0, 2)).toEqual([cols, rows]);
          expect(new Float32Array(st.tensors.get(gguf)!.readSlice(expert).slice().buffer)).toEqual(expected);
        };
        await check("language_model.model.layers.0.self_attn.q_proj", "blk.0.attn_q.weight");
        await check("language_model.model.layers.3.feed_forward.experts.2.down_proj", "blk.3.ffn_down_exps.weight", 2);
        await check("language_model.model.layers.1.feed_forward.experts.0.gate_proj", "blk.1.ffn_gate_exps.weight", 0);
      });
    } finally {
      st.close();
    }
    const base = await loadModel(fixture);
    const q = await loadModel(out);
    try {
      const ids = base.tokenize("The jury said it did find that the court", { addBos: true });
      const a = await base.logits(ids);
      const b = await q.logits(ids);
      let sameTop = 0;
      for (let t = 0; t < ids.length; t++) {
        const row = (x: Float32Array) => x.subarray(t * base.vocabSize, (t + 1) * base.vocabSize);
        const argmax = (r: Float32Array) => r.indexOf(Math.max(...r));
        if (argmax(row(a)) === argmax(row(b))) sameTop++;
      }
      expect(sameTop).toBeGreaterThanOrEqual(ids.length - 1);
    } finally {
      await base.close();
      await q.close();
    }
  });

  it("--experts-only quantizes the routed experts only (attention and shared expert stay BF16), matching the referee", async () => {
    const out = join(work.path, "experts-only");
    const s = await convertToFp8(fixture, out, { scheme: "per-channel", expertsOnly: true });
    expect(s.quantizedMatrices).toBe(24);
    const refFile = join(work.path, "ref-experts-only.safetensors");
    runPythonReferee("fp8_reference.py", ["quantize", fixture, "per-channel", refFile, "--experts-only"]);
    expect(await expectMatchesReferee(out, refFile)).toBe(48);
    await withCheckpoint(out, async (o) => {
      expect(o.tensors.get("language_model.model.layers.1.self_attn.q_proj.weight")!.dtype).toBe("BF16");
      expect(o.tensors.get("language_model.model.layers.1.feed_forward.shared_expert.up_proj.weight")!.dtype).toBe("BF16");
    });
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).quantization_config.ignore).toContain("re:.*self_attn.*");
  });

  it("static activations: input_scale = max|x| / 448 of what each Linear saw on the calibration windows", async () => {
    const out = join(work.path, "static");
    const s = await convertToFp8(fixture, out, { scheme: "per-tensor", activations: "static", data: calibText, ctx: 64, maxWindows: 2 });
    expect(s.calibration).toMatchObject({ windows: 2, tokens: 128 });
    const model = await loadModel(fixture);
    const seen = new Map<string, number>();
    try {
      model.setTap((ev) => {
        const k = ev.expert === undefined ? ev.tensor : `${ev.tensor}#${ev.expert}`;
        seen.set(k, Math.max(seen.get(k) ?? 0, absMax(ev.rows)));
      });
      for (const w of calibrationWindows(model, calibText, { ctx: 64, maxWindows: 2 })) await model.logits(w);
    } finally {
      await model.close();
    }
    await withCheckpoint(out, async (o) => {
      const inputScale = async (base: string) => new Float32Array((await o.readBytes(`${base}.input_scale`)).slice().buffer)[0];
      expect(await inputScale("language_model.model.layers.0.self_attn.o_proj")).toBe(fp8ScaleFromAbsMax(seen.get("blk.0.attn_output.weight")!));
      expect(await inputScale("language_model.model.layers.2.feed_forward.down_proj")).toBe(fp8ScaleFromAbsMax(seen.get("blk.2.ffn_down.weight")!));
      for (let e = 0; e < 4; e++) {
        const key = `blk.1.ffn_up_exps.weight#${e}`;
        const own = seen.get(key);
        const got = await inputScale(`language_model.model.layers.1.feed_forward.experts.${e}.up_proj`);
        if (own !== undefined) expect(got).toBe(fp8ScaleFromAbsMax(own));
        else expect(s.calibration!.expertFallbacks).toContain(`language_model.model.layers.1.feed_forward.experts.${e}.up_proj`);
      }
      expect([...o.tensors.keys()].filter((n) => n.endsWith(".input_scale"))).toHaveLength(52);
    });
    const ia = JSON.parse(readFileSync(join(out, "config.json"), "utf8")).quantization_config.config_groups.group_0.input_activations;
    expect(ia).toMatchObject({ strategy: "tensor", dynamic: false });
  });

  it("shards past --max-shard-size with an index the runtime reads", async () => {
    const out = join(work.path, "sharded");
    const s = await convertToFp8(fixture, out, { scheme: "block", maxShardBytes: 2_000_000 });
    expect(s.files.length).toBeGreaterThan(3);
    expect(existsSync(join(out, "model.safetensors.index.json"))).toBe(true);
    await withCheckpoint(out, async (o) => expect(o.tensors.size).toBeGreaterThan(100));
    const m = await loadModel(out);
    await m.close();
  });

  it("a failure mid-way leaves neither the output folder nor its temp folder", async () => {
    const out = join(work.path, "crash", "out");
    await expect(
      convertToFp8(fixture, out, {
        scheme: "per-tensor",
        onTensor: (i) => {
          if (i === 20) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(work.path, "crash"))).toEqual([]);
  });
});
