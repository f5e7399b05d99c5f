/**
 * The GPTQ Hessians of one decoder layer, gathered from the runtime's activation taps.
 * Which Linears share an input (and so one H): q/k/v; gate/up of the dense FFN, of the shared expert and of each
 * routed expert (its router-scaled routed tokens only: the faithful statistics of digest §3.9); every down_proj
 * and o_proj has its own. The router (ffn_gate_inp) is not quantized and is not collected.
 */
import type { ActivationEvent, ActivationTap } from "@moeq/runtime";
import type { HessianAccumulator } from "@moeq/quant";
import { addRows, createHessian } from "@moeq/quant";

/** Linears that read the same input rows: one Hessian. `expert` set for a routed expert's gate/up or down. */
export interface HessianGroup {
  /** GGUF tensor names quantized with this Hessian (e.g. q, k, v). */
  readonly tensors: readonly string[];
  readonly expert?: number;
  readonly acc: HessianAccumulator;
}

/** For a tap's tensor: the tensors that share its input, or null when the event repeats another's rows or is not quantized. */
function sharers(tensor: string): readonly string[] | null {
  const m = /^(blk\.\d+\.)(.+)\.weight$/.exec(tensor);
  if (!m) return null;
  const [, p, base] = m;
  switch (base) {
    case "attn_q":
      return [`${p}attn_q.weight`, `${p}attn_k.weight`, `${p}attn_v.weight`];
    case "ffn_gate":
    case "ffn_gate_shexp":
    case "ffn_gate_exps": {
      const suffix = base.slice("ffn_gate".length);
      return [`${p}ffn_gate${suffix}.weight`, `${p}ffn_up${suffix}.weight`];
    }
    case "attn_output":
    case "ffn_down":
    case "ffn_down_shexp":
    case "ffn_down_exps":
      return [tensor];
    default: // attn_k / attn_v / ffn_up*: same rows as q / gate; ffn_gate_inp: the router stays BF16
      return null;
  }
}

export class LayerHessians {
  readonly groups = new Map<string, HessianGroup>();
  private readonly prefix: string;

  constructor(readonly layer: number) {
    this.prefix = `blk.${layer}.`;
  }

  /** True for events of this layer. */
  owns(ev: ActivationEvent): boolean {
    return ev.tensor.startsWith(this.prefix);
  }

  readonly tap: ActivationTap = (ev) => {
    if (!this.owns(ev)) return;
    const tensors = sharers(ev.tensor);
    if (!tensors) return;
    const key = ev.expert === undefined ? ev.tensor : `${ev.tensor}#${ev.expert}`;
    let g = this.groups.get(key);
    if (!g) {
      g = { tensors, expert: ev.expert, acc: createHessian(ev.nCols) };
      this.groups.set(key, g);
    }
    addRows(g.acc, ev.rows, ev.nRows);
  };

  /** The group holding `tensor` (expert `expert`), if any rows reached it. */
  groupOf(tensor: string, expert?: number): HessianGroup | undefined {
    for (const g of this.groups.values()) if (g.expert === expert && g.tensors.includes(tensor)) return g;
    return undefined;
  }
}
