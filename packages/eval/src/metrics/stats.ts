// Summary statistics exactly as tools/perplexity/perplexity.cpp computes them (llama.cpp), including
// where it rounds through 32-bit floats, so our printed numbers match llama-perplexity's digits.
const f32 = Math.fround;

/** Running sums of a sample, accumulated in double like llama.cpp. */
export class SumAccumulator {
  sum = 0;
  sum2 = 0;
  count = 0;
  add(v: number): void {
    this.sum += v;
    this.sum2 += v * v;
    this.count++;
  }
}

export interface MeanAndUncertainty {
  mean: number;
  /** Standard error of the mean; 0 when it cannot be estimated (n ≤ 10 or non-positive variance). */
  stderr: number;
}

/** matches llama-perplexity's `mean_and_uncertainty` lambda (KLD mode). */
export function meanAndUncertainty(sum: number, sum2: number, count: number): MeanAndUncertainty {
  if (count < 1) return { mean: 0, stderr: 0 };
  const f = sum / count;
  const df = sum2 / count - f * f;
  return { mean: f, stderr: df > 0 && count > 10 ? Math.sqrt(df / (count - 1)) : 0 };
}

/** matches llama-perplexity's `covariance` lambda: covariance of the two means (already divided by n−1). */
export function covarianceOfMeans(sumA: number, sumB: number, sumAB: number, count: number): number {
  if (count < 10) return 0;
  return (sumAB / count - (sumA / count) * (sumB / count)) / (count - 1);
}

/**
 * Linear-interpolated percentile of an ascending-sorted sample, in float like llama-perplexity's
 * `percentile` lambda: p = fraction·(n−1) as float, then (1−p)·v[i] + p·v[i+1].
 */
export function percentileSorted(sorted: Float32Array, fraction: number): number {
  if (sorted.length === 0) return NaN;
  const fr = f32(fraction);
  if (fr <= 0) return sorted[0];
  if (fr >= 1) return sorted[sorted.length - 1];
  let p = f32(fr * f32(sorted.length - 1));
  const ip = Math.floor(p);
  p = f32(p - ip);
  const hi = sorted[Math.min(ip + 1, sorted.length - 1)];
  return f32(f32(f32(1 - p) * sorted[ip]) + f32(p * hi));
}

/** Median as llama-perplexity prints it: middle value, or 0.5f·(sum of the two middle values). */
export function medianSorted(sorted: Float32Array): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 0 ? f32(0.5 * f32(sorted[n / 2] + sorted[n / 2 - 1])) : sorted[(n - 1) / 2];
}

/** Standard error of a proportion the way llama-perplexity reports "Same top p": sqrt(p(1−p)/(n−1)). */
export function proportionStderr(p: number, n: number): number {
  return n > 1 ? Math.sqrt((p * (1 - p)) / (n - 1)) : 0;
}
