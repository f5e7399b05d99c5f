import { describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspectPath } from "./inspect.js";

const samples = fileURLToPath(new URL("../../../fixtures/samples/", import.meta.url));

describe("inspectPath", () => {
  it("GGUF: architecture, counts, bytes by ggml type, metadata with long arrays summarised", async () => {
    const r = await inspectPath(join(samples, "tiny-llama4.gguf"));
    expect(r.format).toBe("gguf");
    expect(r.architecture).toBe("llama4");
    expect(r.gguf).toEqual({ version: 3, alignment: 32, dataOffset: expect.any(Number) });
    expect(r.tensorCount).toBe(5);
    // 16*24 + 16 + 32*32*2 + 16*2 + 16
    expect(r.parameterCount).toBe(384 + 16 + 2048 + 32 + 16);
    expect(r.byType).toEqual([
      { type: "Q8_0", tensors: 1, parameters: 2048, bytes: (2048 / 32) * 34 },
      { type: "F16", tensors: 1, parameters: 384, bytes: 768 },
      { type: "F32", tensors: 3, parameters: 64, bytes: 256 },
    ]);
    expect(r.tensorBytes).toBe(2176 + 768 + 256);
    const tokens = r.metadata.find((m) => m.key === "tokenizer.ggml.tokens");
    expect(tokens).toEqual({ key: "tokenizer.ggml.tokens", type: "ARRAY[STRING]", value: "[STRING × 24]", length: 24 });
    expect(r.metadata.find((m) => m.key === "llama4.expert_count")).toEqual({ key: "llama4.expert_count", type: "UINT32", value: 2 });
    expect(r.metadata.find((m) => m.key === "llama4.attention.layer_norm_rms_epsilon")?.value).toBe(1e-5); // not 0.0000099999997…
    expect(JSON.parse(JSON.stringify(r))).toEqual(r); // JSON-safe
  });

  it("sharded HF directory: config model types, all shards, bytes by dtype", async () => {
    const r = await inspectPath(join(samples, "tiny-hf"));
    expect(r).toMatchObject({
      format: "safetensors",
      architecture: "Llama4ForConditionalGeneration",
      modelType: "llama4",
      textModelType: "llama4_text",
      tensorCount: 7,
    });
    expect(r.files).toHaveLength(3);
    expect(r.byType.map((t) => [t.type, t.tensors])).toEqual([
      ["BF16", 4],
      ["F8_E4M3", 1],
      ["F32", 2],
    ]);
    expect(r.parameterCount).toBe(384 + 16 + 256 + 32 + 2048 + 1024 + 16);
    expect(r.metadata).toEqual([{ key: "format", type: "string", value: "pt" }]);
    expect(r.tensors).toBeUndefined();
    const withTensors = await inspectPath(join(samples, "tiny-hf"), { tensors: true });
    expect(withTensors.tensors?.find((t) => t.name.endsWith("experts.down_proj"))).toMatchObject({
      shape: [2, 32, 16],
      type: "F8_E4M3",
      bytes: 1024,
      file: expect.stringMatching(/model-00003-of-00003\.safetensors$/),
    });
  });

  it("a single safetensors file gives the same tensors as the sharded directory", async () => {
    const one = await inspectPath(join(samples, "tiny.safetensors"));
    const dir = await inspectPath(join(samples, "tiny-hf"));
    expect(one.byType).toEqual(dir.byType);
    expect(one.files).toHaveLength(1);
  });

  it("bad input is a typed InputError naming the file", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "moeq-inspect-"));
    try {
      const txt = join(tmp, "notes.txt");
      await writeFile(txt, "hello");
      await expect(inspectPath(txt)).rejects.toMatchObject({ name: "InputError", code: "UNKNOWN_FORMAT", file: txt });
      await expect(inspectPath(join(tmp, "missing.gguf"))).rejects.toMatchObject({ code: "NOT_FOUND" });
      const bad = join(tmp, "bad.gguf");
      await writeFile(bad, new Uint8Array([0x47, 0x47, 0x55, 0x46, 9, 0, 0, 0]));
      await expect(inspectPath(bad)).rejects.toMatchObject({ name: "GGUFError", code: "GGUF_BAD_VERSION", file: bad });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
