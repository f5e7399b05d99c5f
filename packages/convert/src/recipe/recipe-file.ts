/**
 * The recipe file: whitespace-separated PATTERN=TYPE items, one a line — the format of llama-quantize's
 * `--tensor-type-file` (tools/quantize/quantize.cpp parse_tensor_type_file reads it with `file >> arg`, so it holds no
 * comments), and what `moeq quantize --recipe F` takes.
 */
import { readFileSync } from "node:fs";
import { GGMLType, GGML_TYPE_INFO, InputError } from "@moeq/formats";

export interface RecipeRule {
  readonly pattern: string;
  readonly type: GGMLType;
}

export function formatRecipe(rules: readonly RecipeRule[]): string {
  return rules.map((r) => `${r.pattern}=${GGML_TYPE_INFO[r.type].name}\n`).join("");
}

/** The PATTERN=TYPE items of a recipe file (parsed further by the same code as --tensor-type). */
export function readRecipeItems(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError("BAD_RECIPE", `cannot read recipe: ${(e as Error).message}`, { file: path });
  }
  const items = text.split(/\s+/).filter((s) => s.length > 0);
  if (items.length === 0) throw new InputError("BAD_RECIPE", "recipe has no PATTERN=TYPE items", { file: path });
  return items;
}
