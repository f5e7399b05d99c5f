/**
 * Per-expert quantization error for the report heatmap (layers × experts): for every tensor and every
 * expert slice of an `_exps` tensor, the RMSE between the source f32 rows and the written rows decoded
 * again. Accumulated from the units as they are encoded (no second pass), in file order, so the result does
 * not depend on --threads. Rows match `EXPERT_ERROR_FIELDS` of `moeq gate --expert-errors`.
 */
import { writeFileAtomic } from "@moeq/formats";

export interface ExpertErrorRow {
  /** `blk.N.` → N; -1 for tensors outside the blocks (token_embd, output, …). */
  readonly layer: number;
  /** Expert index for 3-D `_exps` tensors; -1 for every other tensor. */
  readonly expert: number;
  /** The tensor name without `blk.N.` and `.weight`, e.g. "ffn_down_exps". */
  readonly tensor: string;
  readonly rmse: number;
}

/** `blk.12.ffn_down_exps.weight` → { layer: 12, tensor: "ffn_down_exps" }. */
export function expertErrorKey(name: string): { layer: number; tensor: string } {
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const rest = m ? m[2] : name;
  return { layer: m ? Number(m[1]) : -1, tensor: rest.endsWith(".weight") ? rest.slice(0, -".weight".length) : rest };
}

/** Sums squared errors per (tensor, expert) in the order units are written. */
export class ExpertErrorCollector {
  private readonly rows: ExpertErrorRow[] = [];
  private open: { name: string; expert: number; sse: number; n: number } | undefined;

  /** One encoded unit of tensor `name` (`ne` in ggml order): its expert (for 3-D tensors), error sum and element count. */
  add(name: string, ne: readonly number[], expert: number, sumSquaredError: number, nElements: number): void {
    const e = ne.length >= 3 ? expert : -1;
    if (this.open && (this.open.name !== name || this.open.expert !== e)) this.flush();
    this.open ??= { name, expert: e, sse: 0, n: 0 };
    this.open.sse += sumSquaredError;
    this.open.n += nElements;
  }

  private flush(): void {
    if (!this.open) return;
    const { name, expert, sse, n } = this.open;
    const { layer, tensor } = expertErrorKey(name);
    this.rows.push({ layer, expert, tensor, rmse: n > 0 ? Math.sqrt(sse / n) : 0 });
    this.open = undefined;
  }

  result(): ExpertErrorRow[] {
    this.flush();
    return this.rows;
  }
}

/** Writes the rows as a JSON array (crash-safe). */
export async function writeExpertErrors(path: string, rows: readonly ExpertErrorRow[]): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(rows) + "\n");
}
