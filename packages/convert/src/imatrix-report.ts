/**
 * What an importance matrix says about the experts: tokens (rows) each routed expert saw per layer, and the
 * expert slices that saw fewer rows than their matrix's input width — too few for Σx² to describe every input
 * column. What llama-quantize then does is fixed by its load_imatrix (tools/quantize/quantize.cpp): every slice
 * with at least one row is used as sum / count however few rows it has; a slice with no row gets 1 for every
 * column, the same weighting as quantizing without an imatrix.
 */
import type { TensorStats } from "./imatrix-stats.js";
import type { RawImatrix } from "./imatrix.js";

export const UNDER_TRAINED_RULE =
  "llama-quantize uses sum/count of every expert slice with at least one row, however few; a slice with no rows gets importance 1 for every column (the same as no imatrix)";

export interface ExpertLayerTokens {
  readonly layer: number;
  /** Rows routed to each expert (counts of the layer's ffn_gate_exps / ffn_up_exps / ffn_down_exps). */
  readonly tokens: number[];
}

export interface UnderTrainedExpert {
  readonly tensor: string;
  readonly expert: number;
  readonly rows: number;
  /** Input width of the matrix (ne0 of its imatrix slice). */
  readonly width: number;
  /** What llama-quantize does with this slice. */
  readonly quantize: "uses sum/count" | "importance 1 (as without imatrix)";
}

export interface ImatrixExpertReport {
  readonly layers: ExpertLayerTokens[];
  readonly underTrained: UnderTrainedExpert[];
  readonly rule: string;
}

const EXPERT_TENSOR = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/;

export function imatrixExpertReport(stats: ReadonlyMap<string, TensorStats>): ImatrixExpertReport {
  const byLayer = new Map<number, number[]>();
  const underTrained: UnderTrainedExpert[] = [];
  const names = [...stats.keys()]
    .filter((n) => EXPERT_TENSOR.test(n))
    .sort((a, b) => {
      const la = Number(EXPERT_TENSOR.exec(a)![1]);
      const lb = Number(EXPERT_TENSOR.exec(b)![1]);
      return la - lb || (a < b ? -1 : a > b ? 1 : 0);
    });
  for (const name of names) {
    const s = stats.get(name)!;
    const layer = Number(EXPERT_TENSOR.exec(name)![1]);
    const width = s.values.length / s.counts.length;
    if (!byLayer.has(layer) || /_gate_exps/.test(name)) byLayer.set(layer, [...s.counts]);
    s.counts.forEach((rows, expert) => {
      if (rows < width) underTrained.push({ tensor: name, expert, rows, width, quantize: rows > 0 ? "uses sum/count" : "importance 1 (as without imatrix)" });
    });
  }
  const layers = [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, tokens]) => ({ layer, tokens }));
  return { layers, underTrained, rule: UNDER_TRAINED_RULE };
}

/** The report of an imatrix file (GGUF: per-expert counts; a legacy .dat file has none, so no layers). */
export function imatrixFileExpertReport(file: RawImatrix): ImatrixExpertReport {
  if (file.legacy) return { layers: [], underTrained: [], rule: UNDER_TRAINED_RULE };
  return imatrixExpertReport(new Map([...file.entries].map(([name, e]) => [name, { values: e.sums, counts: e.counts }])));
}

/** The report as a plain-text table (layers × experts) and the under-trained list, for stderr. */
export function formatImatrixExpertReport(r: ImatrixExpertReport): string {
  if (r.layers.length === 0) return "";
  const nExperts = Math.max(...r.layers.map((l) => l.tokens.length));
  const cell = Math.max(5, ...r.layers.flatMap((l) => l.tokens.map((t) => String(t).length + 1)));
  const head = "layer".padEnd(6) + Array.from({ length: nExperts }, (_, e) => `e${e}`.padStart(cell)).join("");
  const lines = ["tokens per expert:", head, ...r.layers.map((l) => String(l.layer).padEnd(6) + l.tokens.map((t) => String(t).padStart(cell)).join(""))];
  if (r.underTrained.length > 0) {
    // one line per (layer, expert): its rows and the widths of the slices they fall short of
    const byExpert = new Map<string, UnderTrainedExpert[]>();
    for (const u of r.underTrained) {
      const key = `${u.tensor.replace(/\.ffn_\w+_exps\.weight$/, "")} expert ${u.expert}`;
      byExpert.set(key, [...(byExpert.get(key) ?? []), u]);
    }
    lines.push(`${byExpert.size} experts saw fewer rows than a matrix's input width:`);
    for (const [key, us] of byExpert) {
      const short = us.map((u) => `${/ffn_(\w+)_exps/.exec(u.tensor)![1]} ${u.width}`).join(", ");
      lines.push(`  ${key}: ${us[0].rows} rows < width (${short}): ${us[0].quantize}`);
    }
    lines.push(`  (${r.rule})`);
  } else {
    lines.push("every expert slice saw at least as many rows as its input width");
  }
  return lines.join("\n") + "\n";
}
