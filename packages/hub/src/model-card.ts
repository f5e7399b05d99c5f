import { formatBytes } from "@moeq/formats";
import type { ModelMetadata } from "./model-metadata.js";
import type { PublishGate } from "./publish-gate.js";
import type { LocalFile } from "./list-local-files.js";

/** Hub `library_name` per format: GGUF files are their own library; the safetensors formats load in Transformers/vLLM. */
const LIBRARY_NAME = { gguf: "gguf", gptq: "transformers", awq: "transformers", fp8: "transformers" } as const;

/** A YAML scalar that is always parsed back as this exact string (a JSON string is a valid YAML double-quoted scalar). */
function yamlString(s: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[0-9.]+$/.test(s) ? s : JSON.stringify(s);
}

/** Text safe inside a Markdown table cell: no pipes, newlines, emphasis stars, links or HTML tags. */
function mdEscape(s: string): string {
  return s
    .replace(/[|\\`*[\]]/g, "\\$&")
    .replace(/<(?=[A-Za-z/!?])/g, "&lt;")
    .replace(/\r?\n/g, " ");
}

/** The Hub tags for the folder: format, quantization scheme, `quantized`, `moeq`, architecture, plus the manifest's own. */
export function modelCardTags(meta: ModelMetadata): string[] {
  const tags = [meta.format, "quantized", "moeq"];
  if (meta.architecture) tags.push(meta.architecture);
  if (meta.quantization && /^[A-Za-z0-9_]+$/.test(meta.quantization)) tags.push(meta.quantization.toLowerCase());
  tags.push(...meta.tags);
  return [...new Set(tags.map((t) => t.trim()).filter(Boolean))];
}

/** The YAML front matter the Hub reads (base_model, base_model_relation, library_name, license, tags). */
export function modelCardFrontMatter(meta: ModelMetadata): string {
  const lines = ["---"];
  if (meta.baseModel) {
    lines.push(`base_model: ${yamlString(meta.baseModel)}`, "base_model_relation: quantized");
  }
  lines.push(`library_name: ${LIBRARY_NAME[meta.format]}`);
  if (meta.license) lines.push(`license: ${yamlString(meta.license)}`);
  if (meta.pipelineTag) lines.push(`pipeline_tag: ${yamlString(meta.pipelineTag)}`);
  lines.push("tags:", ...modelCardTags(meta).map((t) => `- ${yamlString(t)}`), "---");
  return lines.join("\n");
}

function gateSection(gate: PublishGate | undefined): string[] {
  if (!gate)
    return [
      "## Quality gate",
      "",
      "No gate report (`report.json` from `moeq gate --report`) was found in the published folder: this upload was not gated.",
      "",
    ];
  return ["## Quality gate", "", `**Verdict: ${gate.passed ? "PASSED" : "FAILED (published with --force)"}**`, "", gate.table.trim(), ""];
}

function usageSection(meta: ModelMetadata, repoId: string, files: readonly LocalFile[]): string[] {
  if (meta.format === "gguf") {
    const g = files.find((f) => f.path.endsWith(".gguf") && !/mmproj/i.test(f.path));
    return [
      "## Use",
      "",
      "```sh",
      `llama-cli -hf ${repoId}${meta.quantization ? `:${meta.quantization}` : ""} -p "Hello"`,
      ...(g ? [`# or: moeq run ${g.path} -p "Hello"`] : []),
      "```",
      "",
    ];
  }
  return ["## Use", "", "```sh", `vllm serve ${repoId}`, "```", ""];
}

/** The README.md uploaded with the model: Hub front matter, what it is, its files, the gate table. */
export function renderModelCard(args: { meta: ModelMetadata; repoId: string; files: readonly LocalFile[]; gate: PublishGate | undefined }): string {
  const { meta, repoId, files, gate } = args;
  const title = meta.modelName ?? repoId.split("/")[1]!;
  const body = [
    modelCardFrontMatter(meta),
    "",
    `# ${mdEscape(title)}${meta.quantization ? ` — ${mdEscape(meta.quantization)}` : ""}`,
    "",
    `${meta.format.toUpperCase()} quantization${meta.baseModel ? ` of [${meta.baseModel}](https://huggingface.co/${meta.baseModel})` : ""}, produced and checked with moeq.` +
      (meta.license ? ` Licence: \`${mdEscape(meta.license)}\`, inherited from the base model.` : ""),
    "",
    ...gateSection(gate),
    "## Files",
    "",
    "| file | size |",
    "|---|---|",
    ...files.filter((f) => f.path !== "README.md").map((f) => `| ${mdEscape(f.path)} | ${formatBytes(f.size)} |`),
    "",
    ...usageSection(meta, repoId, files),
  ];
  return body.join("\n");
}
