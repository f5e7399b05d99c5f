// The fixture's BF16 safetensors through our forward pass == its f32 reference logits (computed by
// fixtures/tools/llama4.py, which follows transformers' modeling_llama4.py): text prompts, the image prompt, and
// the same weights under the variant config (attention_chunk_size 32, floor_scale 16).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadModel, type Llama4Model } from "./model.js";
import { openSafetensors } from "@moeq/formats";
import { decodeImage, preprocessImage } from "./vision/image-processor.js";
import { FIXTURE_DIR } from "@moeq/test-support/random-checkpoint";

const REF = join(FIXTURE_DIR, "reference");

interface RefPrompt {
  name: string;
  kind: "text" | "image";
  text: string;
  input_ids: number[];
  image?: string;
  expanded_text?: string;
  greedy_next_token: number;
}

const prompts = (JSON.parse(readFileSync(join(REF, "prompts.json"), "utf8")) as { prompts: RefPrompt[] }).prompts;

/** F32 tensors of a reference safetensors file, by name. */
async function readF32(file: string): Promise<Map<string, Float32Array>> {
  const ck = await openSafetensors(file);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of ck.tensors.keys()) out.set(name, await ck.readFloat32(name));
    return out;
  } finally {
    await ck.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function promptIds(m: Llama4Model, p: RefPrompt, image: Uint8Array | undefined): number[] {
  const text = image ? m.expandImagePrompt(p.text, image) : p.text;
  if (p.expanded_text !== undefined) expect(text).toBe(p.expanded_text);
  return m.tokenize(text, { addBos: !text.startsWith("<|begin_of_text|>"), parseSpecial: true });
}

for (const [label, logitsFile, configFile] of [
  ["config.json", "logits.safetensors", undefined],
  ["variant config (chunk 32, floor_scale 16)", "logits-variant.safetensors", join(REF, "config-variant.json")],
] as const) {
  describe(`reference logits, ${label}`, () => {
    let m: Llama4Model;
    let ref: Map<string, Float32Array>;
    beforeAll(async () => {
      ref = await readF32(join(REF, logitsFile));
      m = await loadModel(FIXTURE_DIR, configFile ? { config: configFile } : {});
    });
    afterAll(async () => {
      await m.close();
    });

    for (const p of prompts) {
      it(`${p.name}: tokens match and max |Δlogit| ≤ 1e-3`, async () => {
        const image = p.image ? new Uint8Array(readFileSync(join(REF, p.image))) : undefined;
        const ids = promptIds(m, p, image);
        expect(ids).toEqual(p.input_ids);
        const logits = await m.logits(ids, { image });
        const expected = ref.get(p.name)!;
        const diff = maxAbsDiff(logits, expected);
        console.log(`${label} ${p.name} max abs diff ${diff.toExponential(2)}`);
        expect(diff).toBeLessThanOrEqual(1e-3);
        const V = m.vocabSize;
        const last = logits.subarray((ids.length - 1) * V);
        const refLast = expected.subarray((ids.length - 1) * V);
        expect(last.indexOf(Math.max(...last))).toBe(refLast.indexOf(Math.max(...refLast)));
        // prompts.json records the greedy next token under config.json
        if (!configFile) expect(last.indexOf(Math.max(...last))).toBe(p.greedy_next_token);
      });
    }
  });
}

describe("reference image preprocessing", () => {
  it("produces the reference pixel values bit for bit", async () => {
    const pixels = await readF32(join(REF, "pixel_values.safetensors"));
    for (const p of prompts.filter((q) => q.kind === "image")) {
      const processed = preprocessImage(decodeImage(new Uint8Array(readFileSync(join(REF, p.image!)))), 128);
      const ref = pixels.get(p.name)!;
      expect(processed.pixels.length).toBe(ref.length);
      expect(maxAbsDiff(processed.pixels, ref)).toBe(0);
    }
  });
});
