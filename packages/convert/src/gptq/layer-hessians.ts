/**
 * The GPTQ Hessians of one decoder layer, gathered from the runtime's activation taps.
 * Which Linears share an input (and so one H): q/k/v; gate/up of the dense FFN, of the shared expert and of each
 * routed expert (its router-scaled routed tokens only: the faithful statistics of digest §3.9); every down_proj
 * and o_proj has its own. The router (ffn_gate_inp) is not quantized and is not collected.
 *
 * Memory: a routed expert's Hessian is deferred. Its rows are kept (they are the layer's calibration activations)
 * and folded into a float64 H only when that expert is solved (`accumulator`), or earlier once holding the rows
 * would cost more than H itself (n·cols·4 ≥ cols²·8). Rows are folded in arrival order either way, so H is
 * bit-identical to eager accumulation. `release` drops an expert's rows and H after it is solved, so a MoE layer
 * never holds 128 experts' Hessians at once.
 */
import type { ActivationEvent, ActivationTap } from "@moeq/runtime";
import type { HessianAccumulator } from "@moeq/quant";
import { addRows, createHessian } from "@moeq/quant";

/** Linears that read the same input rows: one Hessian. `expert` set for a routed expert's gate/up or down. */
export interface HessianGroup {
  /** GGUF tensor names quantized with this Hessian (e.g. q, k, v). */
  readonly tensors: readonly string[];
  readonly expert?: number;
  readonly cols: number;
  /** Input rows seen so far. */
  n: number;
  /** Rows not yet folded into `acc` (routed experts only), in arrival order. */
  pending: Float32Array[];
  acc: HessianAccumulator | null;
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

function fold(g: HessianGroup): HessianAccumulator {
  const acc = g.acc ?? (g.acc = createHessian(g.cols));
  for (const rows of g.pending) addRows(acc, rows, rows.length / g.cols);
  g.pending = [];
  return acc;
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
      g = { tensors, expert: ev.expert, cols: ev.nCols, n: 0, pending: [], acc: ev.expert === undefined ? createHessian(ev.nCols) : null };
      this.groups.set(key, g);
    }
    g.n += ev.nRows;
    if (ev.expert === undefined) {
      addRows(g.acc!, ev.rows, ev.nRows);
      return;
    }
    g.pending.push(ev.rows.slice(0, ev.nRows * ev.nCols)); // the tap's buffer is reused
    const held = g.n - (g.acc?.n ?? 0);
    if (held >= 2 * g.cols) fold(g); // the rows now cost more than H
  };

  /** The group holding `tensor` (expert `expert`), if any rows reached it. */
  groupOf(tensor: string, expert?: number): HessianGroup | undefined {
    for (const g of this.groups.values()) if (g.expert === expert && g.tensors.includes(tensor)) return g;
    return undefined;
  }

  /** The group's Σ x·xᵀ over all its rows (a routed expert's is built now from its kept rows). */
  accumulator(g: HessianGroup): HessianAccumulator {
    return fold(g);
  }

  /** Drops a solved group's rows and Hessian; its row count stays for the report. */
  release(g: HessianGroup): void {
    g.pending = [];
    g.acc = null;
  }
}
