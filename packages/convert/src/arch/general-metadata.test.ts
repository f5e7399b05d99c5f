import { describe, it, expect } from "vitest";
import { generalNaming, idToTitle, modelIdComponents } from "./general-metadata.js";

// Expected values worked out by hand from gguf-py/gguf/metadata.py (get_model_id_components, id_to_title).
describe("general.* naming heuristics (gguf-py Metadata)", () => {
  it("splits a Hugging Face model id into basename, size label and finetune", () => {
    const c = modelIdComponents("meta-llama/Llama-4-Scout-17B-16E-Instruct", 109e9);
    expect(c).toEqual({
      fullName: "Llama-4-Scout-17B-16E-Instruct",
      org: "meta-llama",
      basename: "Llama-4-Scout",
      finetune: "16E-Instruct",
      version: undefined,
      sizeLabel: "17B",
    });
    expect(idToTitle("Llama-4-Scout-17B-16E-Instruct")).toBe("Llama 4 Scout 17B 16E Instruct");
  });

  it("a size far from the parameter count is treated as a context length (finetune, lower-cased)", () => {
    const c = modelIdComponents("Foo-8K-v2", 7e9);
    expect(c.finetune).toBe("8k");
    expect(c.sizeLabel).toBeUndefined();
    expect(c.version).toBe("v2");
  });

  it("folder names without size, finetune or version give only a title-cased name", () => {
    expect(generalNaming(undefined, "tiny-llama4", 5_000_000)).toEqual({ name: "Tiny Llama4" });
    expect(idToTitle("tiny-llama4b")).toBe("Tiny Llama4B"); // Python str.title() capitalizes after digits
  });

  it("_name_or_path wins over the folder name", () => {
    const n = generalNaming("acme/Tiny-Llama4-2B-Chat", "snapshot-abc", 2e9);
    expect(n).toMatchObject({ name: "Tiny Llama4 2B Chat", organization: "Acme", basename: "Tiny-Llama4", sizeLabel: "2B", finetune: "Chat" });
  });
});
