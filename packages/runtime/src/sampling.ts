/** Next-token sampling: greedy at temperature 0, otherwise softmax(logits / T) with optional nucleus (top-p) cut. */

export function argmax(x: Float32Array, off = 0, n = x.length - off): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
  return best;
}

export interface SampleOptions {
  temperature?: number;
  topP?: number;
}

export function sampleToken(logits: Float32Array, opts: SampleOptions, rand: () => number): number {
  const temp = opts.temperature ?? 0;
  if (temp <= 0) return argmax(logits);
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp((logits[i] - max) / temp);
    sum += p[i];
  }
  const topP = opts.topP ?? 1;
  let order: number[];
  let mass = sum;
  if (topP < 1) {
    order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b] - p[a]);
    let acc = 0;
    let keep = 0;
    while (keep < n && acc < topP * sum) acc += p[order[keep++]];
    order = order.slice(0, Math.max(1, keep));
    mass = acc;
  } else {
    order = Array.from({ length: n }, (_, i) => i);
  }
  let r = rand() * mass;
  for (const i of order) {
    r -= p[i];
    if (r <= 0) return i;
  }
  return order[order.length - 1];
}

/** log-softmax of one logits row [off, off + n), in f64 (max-shifted log-sum-exp). */
export function logSoftmax(logits: Float32Array, off: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[off + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[off + i] - max);
  const lse = Math.log(sum) + max;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[off + i] - lse;
  return out;
}
