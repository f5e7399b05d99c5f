/**
 * The tensor groups `moeq recipe` measures and types together: per layer attention, shared expert, routed experts'
 * gate / up / down, dense FFN; token embeddings; output. The router (ffn_gate_inp) is never quantized by
 * llama-quantize (tensor_allows_quantization), so it is not a group. A quantizable tensor of no known kind is a group
 * of its own, so every quantizable tensor belongs to exactly one group.
 */
export interface TensorGroup {
  /** e.g. "blk.3.ffn_down_exps", "blk.0.attn", "token_embd" */
  readonly key: string;
  /** A regex for llama-quantize's --tensor-type (regex_search on the name), anchored so it names this group only. */
  readonly pattern: string;
  readonly tensors: string[];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The group key and pattern of a tensor name. */
export function groupOf(name: string): { key: string; pattern: string } {
  const m = /^blk\.(\d+)\.(.+)\.weight$/.exec(name);
  if (m) {
    const [, l, rest] = m;
    const blk = `^blk\\.${l}\\.`;
    if (/^attn_(q|k|v|output)$/.test(rest)) return { key: `blk.${l}.attn`, pattern: `${blk}attn_(q|k|v|output)\\.weight$` };
    if (/^ffn_(gate|up|down)_shexp$/.test(rest)) return { key: `blk.${l}.ffn_shexp`, pattern: `${blk}ffn_(gate|up|down)_shexp\\.weight$` };
    if (/^ffn_(gate|up|down)_exps$/.test(rest)) return { key: `blk.${l}.${rest}`, pattern: `${blk}${rest}\\.weight$` };
    if (/^ffn_(gate|up|down)$/.test(rest)) return { key: `blk.${l}.ffn`, pattern: `${blk}ffn_(gate|up|down)\\.weight$` };
  }
  const stem = name.endsWith(".weight") ? name.slice(0, -".weight".length) : name;
  return { key: stem, pattern: `^${escape(name)}$` };
}

/** Groups of the given (quantizable) tensor names, in first-seen order. */
export function groupTensors(names: readonly string[]): TensorGroup[] {
  const byKey = new Map<string, TensorGroup>();
  for (const n of names) {
    const g = groupOf(n);
    let e = byKey.get(g.key);
    if (!e) byKey.set(g.key, (e = { ...g, tensors: [] }));
    e.tensors.push(n);
  }
  return [...byKey.values()];
}
