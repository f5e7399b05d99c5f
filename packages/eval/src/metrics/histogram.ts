/** Counts of a sample in equal-width bins over [lo, hi]; values outside are clamped into the end bins. */
export interface Histogram {
  /** bins + 1 ascending edges. */
  edges: number[];
  counts: number[];
}

export function histogram(values: ArrayLike<number>, bins: number, lo?: number, hi?: number): Histogram {
  if (!(bins >= 1)) throw new RangeError(`bins must be ≥ 1, got ${bins}`);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  const a = lo ?? (values.length ? min : 0);
  let b = hi ?? (values.length ? max : 1);
  if (b <= a) b = a + 1e-9;
  const width = (b - a) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor((values[i] - a) / width)));
    counts[k]++;
  }
  const edges = Array.from({ length: bins + 1 }, (_, k) => a + k * width);
  return { edges, counts };
}
