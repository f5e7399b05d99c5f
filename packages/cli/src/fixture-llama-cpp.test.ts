// The acceptance run on the trained fixture (here in the CLI package because it uses both @moeq/convert and @moeq/eval): one `convert --outtype f16`, then for every file type our
// quantize against llama.cpp's llama_model_quantize on the same f16.gguf (whole files byte for byte), and
// llama.cpp (node-llama-cpp) and our runtime greedily generating the same tokens from every output we wrote; then
// llama.cpp's perplexity of the F16 file on brown-test against the fixture's reference.json (computed by the fixture's
// PyTorch reference).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GGML_TYPE_INFO, openGguf } from "@moeq/formats";
import { perplexity } from "@moeq/eval";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { openLlamaLogits } from "@moeq/test-support/llama-perplexity";
import { referenceQuantize } from "@moeq/test-support/llama-quantize";
import { FTYPE_BY_NAME, LlamaFType, convertHfToGguf, ggufNumber, ggufString, quantizeGguf } from "@moeq/convert";
import { loadModel } from "@moeq/runtime";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const FIXTURE = join(root, "fixtures/tiny-llama4");
const BROWN_TEST = readFileSync(join(root, "fixtures/data/brown-test.txt"), "utf8");
const PROMPT = BROWN_TEST.slice(0, 300);

let tmp: string;
let f16: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "moeq-fixture-"));
  f16 = join(tmp, "tiny-f16.gguf");
  await convertHfToGguf(FIXTURE, f16, { outtype: LlamaFType.MOSTLY_F16 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let llama: Llama | undefined;
const N_GENERATED = 4;

/**
 * Loads the GGUF in llama.cpp, greedily generates 4 tokens after a Brown-corpus prompt, and has our runtime
 * generate from the same prompt tokens: both token lists (an end-of-generation token counts and ends a list).
 */
async function generates(path: string): Promise<{ llamaCpp: number[]; ours: number[] }> {
  llama ??= await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const ctx = await model.createContext({ contextSize: 128, threads: 2 });
  const prompt = model.tokenize(PROMPT).slice(0, 48).map(Number);
  const llamaCpp: number[] = [];
  try {
    for await (const t of ctx.getSequence().evaluate(model.tokenize(PROMPT).slice(0, 48), { temperature: 0, yieldEogToken: true })) {
      llamaCpp.push(t);
      if (llamaCpp.length >= N_GENERATED) break;
    }
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
  const m = await loadModel(path);
  try {
    return { llamaCpp, ours: await m.generate(prompt, { maxTokens: N_GENERATED, temperature: 0 }) };
  } finally {
    await m.close();
  }
}

describe("fixtures/tiny-llama4 through llama.cpp", () => {
  it("F16 conversion: llama4 keys and tensors llama.cpp needs, an mmproj next to it, and llama.cpp and our runtime generate the same tokens from it", async () => {
    const tc = (JSON.parse(readFileSync(join(FIXTURE, "config.json"), "utf8")) as { text_config: Record<string, number> }).text_config;
    const g = await openGguf(f16);
    try {
      expect(ggufNumber(g, "llama4.expert_count")).toBe(tc.num_local_experts);
      expect(ggufNumber(g, "llama4.feed_forward_length")).toBe(tc.intermediate_size_mlp); // the swap
      expect(ggufNumber(g, "llama4.expert_feed_forward_length")).toBe(tc.intermediate_size);
      expect(g.tensors[0].name).toBe("rope_freqs.weight");
      const nMoe = Math.floor(tc.num_hidden_layers / tc.interleave_moe_layer_step);
      // rope_freqs + token_embd/output/output_norm + per layer (2 norms, q/k/v/o) + MoE (router, 3 experts, 3 shared) or dense (3)
      expect(g.tensors.length).toBe(1 + 3 + tc.num_hidden_layers * 6 + nMoe * 7 + (tc.num_hidden_layers - nMoe) * 3);
    } finally {
      await g.close();
    }
    const mm = await openGguf(join(tmp, "mmproj-tiny-f16.gguf"));
    expect(ggufString(mm, "clip.projector_type")).toBe("llama4");
    await mm.close();
    const g16 = await generates(f16);
    expect(g16.llamaCpp).toHaveLength(N_GENERATED);
    expect(g16.ours).toEqual(g16.llamaCpp);
  });

  const FTYPES = ["F32", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K"];
  it(
    "every file type: same file as llama_model_quantize (tensor list, order, types, bytes, KVs), and llama.cpp and our runtime generate the same tokens from it",
    { timeout: 300_000 },
    async () => {
      const differences: string[] = [];
      const generated: string[] = [];
      const differentTokens: string[] = [];
      for (const name of FTYPES) {
        const ftype = FTYPE_BY_NAME[name];
        const ours = join(tmp, `ours-${name}.gguf`);
        const ref = join(tmp, `ref-${name}.gguf`);
        await quantizeGguf(f16, ours, { ftype });
        referenceQuantize(f16, ref, { ftype, nthread: 2 });
        if (!readFileSync(ours).equals(readFileSync(ref))) {
          const a = await openGguf(ours);
          const b = await openGguf(ref);
          let t: (typeof a.tensors)[number] | undefined;
          for (const [i, x] of a.tensors.entries()) {
            const y = b.tensors[i];
            if (!y || x.name !== y.name || x.type !== y.type || !Buffer.from(await a.readTensorBytes(x.name)).equals(await b.readTensorBytes(y.name))) {
              t = x;
              break;
            }
          }
          differences.push(`${name}: ${t ? `${t.name} (${GGML_TYPE_INFO[t.type].name})` : "metadata"}`);
          await a.close();
          await b.close();
        }
        const g = await generates(ours);
        generated.push(`${name}: llama.cpp ${g.llamaCpp.join(",")} ours ${g.ours.join(",")}`);
        expect(g.llamaCpp.length, `llama.cpp output for ${name}`).toBeGreaterThan(0); // an EOG token counts
        if (g.ours.join() !== g.llamaCpp.join()) differentTokens.push(name);
        rmSync(ref);
      }
      process.stderr.write(generated.join("\n") + "\n");
      expect(differences).toEqual([]);
      // Greedy generation from each file: our runtime picks the tokens llama.cpp picks.
      expect(differentTokens).toEqual([]);
    },
  );
});

describe("perplexity", () => {
  it("llama.cpp's perplexity of our F16 conversion on brown-test is within 1e-4 of reference.json", { timeout: 300_000 }, async () => {
    const ref = JSON.parse(readFileSync(join(FIXTURE, "reference/reference.json"), "utf8")) as { perplexity: { ppl: number; n_ctx: number; chunks: number } };
    // llama.cpp's forward pass (koffi on libllama: node-llama-cpp exposes no raw logits), llama-perplexity's arithmetic (@moeq/eval)
    const m = openLlamaLogits(f16, ref.perplexity.n_ctx);
    try {
      const r = await perplexity(m, BROWN_TEST, { ctx: ref.perplexity.n_ctx });
      expect(r.nChunk).toBe(ref.perplexity.chunks);
      // The fixture's BF16 weights are exact in F16 (8-bit mantissas, exponents in F16's range), so the file holds the
      // training weights; what remains is float32 arithmetic in another order and ggml rounding each activation row to
      // F16 for the F16 dot products (2^-11 relative per element, unbiased over 28 800 scored tokens). Measured 8.9e-6.
      const rel = Math.abs(r.ppl - ref.perplexity.ppl) / ref.perplexity.ppl;
      process.stderr.write(`F16 PPL ${r.ppl} vs reference ${ref.perplexity.ppl}: relative ${rel.toExponential(2)}\n`);
      expect(rel).toBeLessThan(1e-4);
    } finally {
      await m.close();
    }
  });
});
