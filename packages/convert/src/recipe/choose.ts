/**
 * Picks one type per group to meet a byte budget with the least predicted KLD, where the prediction is the sum of the
 * groups' measured costs (each measured with only that group lowered). A multiple-choice knapsack solved exactly by
 * dynamic programming over the budget in `resolution` steps (exact up to that rounding); the chosen mixture never
 * exceeds the budget.
 */
export interface GroupOption {
  readonly type: number;
  readonly bytes: number;
  /** Measured KLD increase with only this group at this type. */
  readonly cost: number;
}

export interface Choice {
  /** Index into each group's options. */
  readonly picks: number[];
  readonly bytes: number;
  readonly predictedKld: number;
}

/** The least total bytes any choice can reach (each group at its smallest option). */
export function minimumBytes(groups: readonly (readonly GroupOption[])[]): number {
  return groups.reduce((a, opts) => a + Math.min(...opts.map((o) => o.bytes)), 0);
}

/** Least Σcost with Σbytes ≤ budget; undefined when even the smallest choice exceeds it. */
export function chooseTypes(groups: readonly (readonly GroupOption[])[], budget: number, resolution = 8192): Choice | undefined {
  if (minimumBytes(groups) > budget) return undefined;
  const step = budget / resolution;
  // bytes rounded down to steps: a solution within W steps may still be over by < one step per group, so every
  // end point is traced back and the cheapest one that really fits is kept
  const units = (b: number): number => Math.floor(b / step);
  const W = resolution;
  let best = new Float64Array(W + 1).fill(0); // best[w]: least cost of the groups so far in ≤ w units
  const back: Int16Array[] = [];
  for (const opts of groups) {
    const next = new Float64Array(W + 1).fill(Infinity);
    const pick = new Int16Array(W + 1).fill(-1);
    opts.forEach((o, k) => {
      const u = units(o.bytes);
      for (let w = u; w <= W; w++) {
        const c = best[w - u] + o.cost;
        if (c < next[w]) {
          next[w] = c;
          pick[w] = k;
        }
      }
    });
    back.push(pick);
    best = next;
  }
  const trace = (end: number): number[] => {
    const picks: number[] = new Array(groups.length);
    let w = end;
    for (let g = groups.length - 1; g >= 0; g--) {
      picks[g] = back[g][w];
      w -= units(groups[g][picks[g]].bytes);
    }
    return picks;
  };
  const ends = [...best.keys()].filter((w) => Number.isFinite(best[w])).sort((a, b) => best[a] - best[b] || a - b);
  let picks: number[] | undefined;
  for (const w of ends) {
    const p = trace(w);
    if (p.reduce((a, k, g) => a + groups[g][k].bytes, 0) <= budget) {
      picks = p;
      break;
    }
  }
  if (!picks) return undefined;
  const bytes = picks.reduce((a, k, g) => a + groups[g][k].bytes, 0);
  const predictedKld = picks.reduce((a, k, g) => a + groups[g][k].cost, 0);
  return { picks, bytes, predictedKld };
}
