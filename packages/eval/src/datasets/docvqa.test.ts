import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parquetWriteBuffer } from "hyparquet-writer";
import { fakeModel } from "@moeq/test-support/fake-model";
import { docvqaUserText, evaluateDocVqa, llama4ChatPrompt, loadDocVqaItems, selectDocVqaSubset } from "./docvqa.js";

const dir = mkdtempSync(join(tmpdir(), "moeq-docvqa-"));

describe("DocVQA (lmms-eval docvqa_val)", () => {
  it("prompts with the lmms-eval post_prompt inside the Llama 4 chat turn, image first", () => {
    expect(docvqaUserText("What is the total?")).toBe("What is the total?\nAnswer the question using a single word or phrase.");
    expect(llama4ChatPrompt("Q", true)).toBe(
      "<|begin_of_text|><|header_start|>user<|header_end|>\n\n<|image|>Q<|eot|><|header_start|>assistant<|header_end|>\n\n",
    );
  });
  it("scores generations by ANLS and averages over questions", async () => {
    const model = fakeModel({ replies: { "name?": "ADA", "total?": " 4 2 ", "day?": "Monday" } });
    const items = [
      { questionId: "1", question: "What is the name?", answers: ["ada"], image: Uint8Array.of(1) },
      { questionId: "2", question: "What is the total?", answers: ["42"] },
      { questionId: "3", question: "What is the day?", answers: ["MON", "mon."] },
    ];
    const r = await evaluateDocVqa(model, items);
    // generation " 4 2 " is stripped to "4 2": distance 1 to "42" over length 3; "monday" vs "mon": 3 / 6 → exactly 0.5 (kept)
    expect(r.items.map((x) => x.prediction)).toEqual(["ADA", "4 2", "Monday"]);
    expect(r.items[1].anls).toBeCloseTo(1 - 1 / 3, 12);
    expect(r.items[2].anls).toBe(0.5);
    expect(r.anls).toBeCloseTo((1 + 2 / 3 + 0.5) / 3, 12);
    expect(r.n).toBe(3);
  });
  it("loads lmms-lab/DocVQA parquet rows with image bytes and answer lists; subsets are seeded", async () => {
    const p = join(dir, "validation-00000-of-00001.parquet");
    const png = [0x89, 0x50, 0x4e, 0x47];
    writeFileSync(
      p,
      new Uint8Array(
        // the Hub's layout: image = struct {bytes: unannotated BYTE_ARRAY, path: UTF8}, answers = list<string>
        parquetWriteBuffer({
          schema: [
            { name: "schema", num_children: 4 },
            { name: "questionId", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
            { name: "question", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
            { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
            { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
            { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
            { name: "answers", repetition_type: "OPTIONAL", num_children: 1, converted_type: "LIST" },
            { name: "list", repetition_type: "REPEATED", num_children: 1 },
            { name: "element", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
          ],
          columnData: [
            { name: "questionId", data: ["a1", "a2", "a3"] },
            { name: "question", data: ["q1", "q2", "q3"] },
            { name: "image", data: [1, 2, 3].map((i) => ({ bytes: Uint8Array.from(png), path: `doc-${i}.png` })) },
            { name: "answers", data: [["x"], ["y", "z"], ["w"]] },
          ],
        }),
      ),
    );
    const items = await loadDocVqaItems(p);
    expect(items[1]).toMatchObject({ questionId: "a2", question: "q2", answers: ["y", "z"] });
    expect(items[0].image).toBeInstanceOf(Uint8Array);
    expect(Array.from(items[0].image ?? [])).toEqual(png);
    writeFileSync(join(dir, "doc-7.png"), Uint8Array.from(png));
    const jl = join(dir, "validation.jsonl");
    writeFileSync(jl, JSON.stringify({ questionId: "j", question: "q", answers: ["a"], image_path: "doc-7.png" }) + "\n");
    expect(Array.from((await loadDocVqaItems(jl))[0].image ?? [])).toEqual(png);
    const s = selectDocVqaSubset(items, 2, 5);
    expect(s).toEqual(selectDocVqaSubset(items, 2, 5));
    expect(s).toHaveLength(2);
    const bad = join(dir, "test.jsonl");
    writeFileSync(bad, JSON.stringify({ question: "q", answers: null }) + "\n");
    await expect(loadDocVqaItems(bad)).rejects.toThrow(/test\.jsonl.*answers/);
  });
});
