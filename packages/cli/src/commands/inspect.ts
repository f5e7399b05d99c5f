import type { Argv, CommandModule } from "yargs";
import { formatBytes, inspectPath, oneLine, type InspectReport, type InspectValue } from "@moeq/formats";

interface InspectArgs {
  path: string;
  json: boolean;
  tensors: boolean;
}

/** Longest metadata value shown in the human table (chat templates run to kilobytes). */
const MAX_VALUE_CHARS = 72;

function humanCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function shown(v: InspectValue): string {
  const s = typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v);
  // A summary such as "[STRING × 200000]" is shown as is, not as a quoted string.
  const text = typeof v === "string" && /^\[[A-Z0-9_]+ × \d+\]$/.test(v) ? v : s;
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/** Longest cell of the human tables; keys and names from a hostile file can be megabytes. */
const MAX_CELL_CHARS = 200;

function table(cells: string[][], rightAligned: Set<number> = new Set()): string {
  // keys, names and values come from the file: escape control characters so it cannot drive the terminal
  const rows = cells.map((r) => r.map((cell) => oneLine(cell, MAX_CELL_CHARS)));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The human-readable report `moeq inspect` prints without --json. */
export function formatInspectReport(r: InspectReport): string {
  const lines: string[] = [];
  const facts: string[][] = [
    ["path", r.path],
    ["format", r.format + (r.gguf ? ` v${r.gguf.version} (alignment ${r.gguf.alignment}, data at ${r.gguf.dataOffset})` : "")],
    ["architecture", r.architecture ?? "(unknown)"],
  ];
  if (r.modelType) facts.push(["model type", r.modelType + (r.textModelType ? ` (text: ${r.textModelType})` : "")]);
  if (r.files.length > 1) facts.push(["files", `${r.files.length} shards`]);
  facts.push(["tensors", String(r.tensorCount)]);
  facts.push(["parameters", `${humanCount(r.parameterCount)} (${r.parameterCount})`]);
  facts.push(["tensor data", `${formatBytes(r.tensorBytes)} (${r.tensorBytes} bytes)`]);
  lines.push(table(facts));
  if (r.byType.length > 0) {
    lines.push(
      "",
      table(
        [["type", "tensors", "parameters", "bytes"], ...r.byType.map((t) => [t.type, String(t.tensors), humanCount(t.parameters), formatBytes(t.bytes)])],
        new Set([1, 2, 3]),
      ),
    );
  }
  if (r.metadata.length > 0) {
    lines.push("", table([["key", "type", "value"], ...r.metadata.map((m) => [m.key, m.type, shown(m.value)])]));
  }
  if (r.tensors && r.tensors.length > 0) {
    lines.push(
      "",
      table([["tensor", "shape", "type", "bytes"], ...r.tensors.map((t) => [t.name, `[${t.shape.join(", ")}]`, t.type, formatBytes(t.bytes)])], new Set([3])),
    );
  }
  return lines.join("\n") + "\n";
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: "inspect <path>",
  describe: "Show what is in a GGUF file, a safetensors file, or a Hugging Face checkpoint directory",
  builder: (y: Argv<object>) =>
    y
      .positional("path", { type: "string", demandOption: true, describe: "GGUF file, .safetensors file or index, or checkpoint directory" })
      .option("json", { type: "boolean", default: false, describe: "machine-readable JSON on stdout" })
      .option("tensors", { type: "boolean", default: false, describe: "also list every tensor (name, shape, type, bytes)" }) as unknown as Argv<InspectArgs>,
  handler: async (argv) => {
    const report = await inspectPath(argv.path, { tensors: argv.tensors });
    process.stdout.write(argv.json ? JSON.stringify(report, null, 2) + "\n" : formatInspectReport(report));
  },
};
