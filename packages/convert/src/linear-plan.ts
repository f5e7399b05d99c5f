/**
 * Which matrices a quantized safetensors checkpoint (FP8, AWQ) quantizes, before any byte is read: every
 * language-model Linear (attention, dense FFN, shared expert) and every routed expert separately, under per-expert
 * names (`experts.{e}.{gate,up,down}_proj`); the router, embeddings, norms, lm_head and the vision tower are copied.
 */
import { expertGgufName, parseUnfusedExpertName, type ExpertProj } from "@moeq/runtime";
import type { PlannedTensor } from "./arch/llama4.js";
import type { CheckpointTensor } from "./checkpoint-index.js";

/** One [out, in] matrix to quantize: a Linear weight or one expert's slice of a stacked expert tensor. */
export interface LinearMatrix {
  readonly kind: "quantize";
  /** Output name without the `.weight` suffix. */
  readonly base: string;
  /** The planned (GGUF-layout) tensor it is read from, and which expert. */
  readonly planned: PlannedTensor;
  readonly expert: number;
  readonly rows: number;
  readonly cols: number;
  /** The runtime tensor (and expert) whose input activations it consumes: the activation-tap key. */
  readonly tap: { readonly tensor: string; readonly expert?: number };
}

export interface CopiedTensor {
  readonly kind: "copy";
  readonly src: CheckpointTensor;
}

export type LinearPlanItem = LinearMatrix | CopiedTensor;

/** Non-expert text Linears (GGUF names): attention, dense FFN, shared expert. Router and lm_head are not among them. */
const DENSE_LINEAR = /\.(attn_(q|k|v|output)|ffn_(gate|up|down)(_shexp)?)\.weight$/;
const EXPERT_LINEAR = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/;

/** `…experts.gate_up_proj` / `…experts.down_proj` / `…experts.{e}.x_proj.weight` → `[prefix.]…experts` */
function expertsPrefix(t: PlannedTensor): string {
  const rc = t.recipe;
  if (rc.kind === "stacked") return parseUnfusedExpertName(rc.srcs[0]!.name)!.prefix;
  if (rc.kind === "gate_up" || rc.kind === "down") return rc.src.name.replace(/\.(gate_up_proj|down_proj)$/, "");
  throw new Error(`${t.name} is not an expert tensor`);
}

/** `expertsOnly`: only the routed experts are quantized (attention, shared expert, dense FFNs copied). */
export function planQuantizedLinears(text: readonly PlannedTensor[], multimodal: readonly CheckpointTensor[], expertsOnly: boolean): LinearPlanItem[] {
  const items: LinearPlanItem[] = [];
  for (const t of text) {
    const rc = t.recipe;
    if (rc.kind === "generated") continue; // rope_freqs: GGUF only
    const ex = EXPERT_LINEAR.exec(t.name);
    if (ex) {
      const [cols, rows, E] = t.ne as [number, number, number];
      const layer = Number(ex[1]);
      const proj = ex[2] as ExpertProj;
      const prefix = expertsPrefix(t);
      for (let e = 0; e < E; e++) {
        items.push({
          kind: "quantize",
          base: `${prefix}.${e}.${proj}_proj`,
          planned: t,
          expert: e,
          rows,
          cols,
          tap: { tensor: expertGgufName(layer, proj), expert: e },
        });
      }
      continue;
    }
    if (rc.kind !== "plain") throw new Error(`unexpected recipe ${rc.kind} for ${t.name}`);
    if (!expertsOnly && DENSE_LINEAR.test(t.name)) {
      const [cols, rows] = t.ne as [number, number];
      items.push({ kind: "quantize", base: rc.src.name.replace(/\.weight$/, ""), planned: t, expert: 0, rows, cols, tap: { tensor: t.name } });
    } else {
      items.push({ kind: "copy", src: rc.src });
    }
  }
  for (const src of multimodal) items.push({ kind: "copy", src });
  return items;
}

/** Key of a tap (tensor, expert) in activation-statistics maps. */
export function tapKey(tap: { readonly tensor: string; readonly expert?: number }): string {
  return tap.expert === undefined ? tap.tensor : `${tap.tensor}#${tap.expert}`;
}
