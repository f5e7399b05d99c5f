// ANLS (average normalized Levenshtein similarity), as lmms-eval's DocVQA task computes it
// (lmms_eval/api/metrics.py `anls`): for each gold answer, normalise both strings (strip, lowercase,
// collapse whitespace), take the Levenshtein distance, divide by the longer *raw* string's length
// (lmms-eval measures the un-normalised strings); the question scores 1 − min distance, zeroed when
// below the threshold. The "paper" variant (Biten et al. 2019) divides by the normalised lengths and zeroes when the
// normalised distance is ≥ τ.

/** Python `" ".join(s.strip().lower().split())`. */
export function normalizeAnswer(s: string): string {
  return s.trim().toLowerCase().split(/\s+/u).filter(Boolean).join(" ");
}

/** Levenshtein distance over Unicode code points (what Python's len/indexing counts). */
export function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  if (x.length === 0) return y.length;
  if (y.length === 0) return x.length;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  let cur = new Array<number>(y.length + 1);
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[y.length];
}

export type AnlsVariant = "lmms-eval" | "paper";

export interface AnlsOptions {
  /** Default 0.5. */
  threshold?: number;
  /** Default "lmms-eval". */
  variant?: AnlsVariant;
}

const codePoints = (s: string) => Array.from(s).length;

/** Score of one prediction against its gold answers, in [0, 1]. */
export function anlsScore(prediction: string, golds: readonly string[], opts: AnlsOptions = {}): number {
  const tau = opts.threshold ?? 0.5;
  const variant = opts.variant ?? "lmms-eval";
  if (golds.length === 0) return 0;
  const p = normalizeAnswer(prediction);
  let best = Infinity;
  for (const gold of golds) {
    const g = normalizeAnswer(gold);
    const d = levenshtein(g, p);
    const len =
      variant === "lmms-eval" ? Math.max(codePoints(gold.toUpperCase()), codePoints(prediction.toUpperCase())) : Math.max(codePoints(g), codePoints(p));
    const nl = len === 0 ? 0 : d / len;
    if (variant === "paper") best = Math.min(best, nl < tau ? nl : 1);
    else best = Math.min(best, nl);
  }
  const s = 1 - best;
  return variant === "lmms-eval" && s < tau ? 0 : s;
}
