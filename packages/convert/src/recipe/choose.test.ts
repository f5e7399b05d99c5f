import { describe, expect, it } from "vitest";
import { chooseTypes, minimumBytes, type GroupOption } from "./choose.js";
import { groupOf, groupTensors } from "./groups.js";

/** Every combination, for checking the DP on small cases. */
function bruteForce(groups: GroupOption[][], budget: number): number {
  let best = Infinity;
  const rec = (g: number, bytes: number, cost: number): void => {
    if (bytes > budget) return;
    if (g === groups.length) {
      best = Math.min(best, cost);
      return;
    }
    for (const o of groups[g]) rec(g + 1, bytes + o.bytes, cost + o.cost);
  };
  rec(0, 0, 0);
  return best;
}

describe("chooseTypes", () => {
  it("finds the least predicted KLD within the budget (brute force on random cases)", () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    for (let trial = 0; trial < 40; trial++) {
      const groups: GroupOption[][] = Array.from({ length: 2 + Math.floor(rnd() * 4) }, () =>
        Array.from({ length: 2 + Math.floor(rnd() * 4) }, (_, k) => ({ type: k, bytes: 1000 + Math.floor(rnd() * 9000), cost: rnd() })),
      );
      const lo = minimumBytes(groups);
      const budget = lo + Math.floor(rnd() * 20000);
      const c = chooseTypes(groups, budget, 1 << 15)!;
      expect(c.bytes).toBeLessThanOrEqual(budget);
      expect(c.bytes).toBe(c.picks.reduce((a, k, g) => a + groups[g][k].bytes, 0));
      // exact up to the byte rounding: within the optimum of a budget 0.1 % smaller and the optimum itself
      expect(c.predictedKld).toBeGreaterThanOrEqual(bruteForce(groups, budget) - 1e-12);
      expect(c.predictedKld).toBeLessThanOrEqual(bruteForce(groups, Math.floor(budget * (1 - 1e-3))) + 1e-12);
    }
  });

  it("is undefined below the smallest choice and picks the cheapest option when everything fits", () => {
    const groups = [
      [
        { type: 0, bytes: 10, cost: 5 },
        { type: 1, bytes: 20, cost: 1 },
      ],
      [
        { type: 0, bytes: 10, cost: 3 },
        { type: 1, bytes: 30, cost: 2 },
      ],
    ];
    expect(chooseTypes(groups, 19)).toBeUndefined();
    expect(chooseTypes(groups, 1000)!.picks).toEqual([1, 1]);
    expect(chooseTypes(groups, 30)!.picks).toEqual([1, 0]);
  });
});

describe("groups", () => {
  const names = [
    "token_embd.weight",
    "output.weight",
    "blk.0.attn_q.weight",
    "blk.0.attn_k.weight",
    "blk.0.attn_v.weight",
    "blk.0.attn_output.weight",
    "blk.0.ffn_gate.weight",
    "blk.0.ffn_up.weight",
    "blk.0.ffn_down.weight",
    "blk.1.ffn_gate_exps.weight",
    "blk.1.ffn_up_exps.weight",
    "blk.1.ffn_down_exps.weight",
    "blk.1.ffn_gate_shexp.weight",
    "blk.1.ffn_up_shexp.weight",
    "blk.1.ffn_down_shexp.weight",
    "blk.11.attn_q.weight",
  ];
  it("puts attention, dense FFN, shared expert and each routed-expert matrix of a layer in their own group", () => {
    expect(groupTensors(names).map((g) => [g.key, g.tensors.length])).toEqual([
      ["token_embd", 1],
      ["output", 1],
      ["blk.0.attn", 4],
      ["blk.0.ffn", 3],
      ["blk.1.ffn_gate_exps", 1],
      ["blk.1.ffn_up_exps", 1],
      ["blk.1.ffn_down_exps", 1],
      ["blk.1.ffn_shexp", 3],
      ["blk.11.attn", 1],
    ]);
  });
  it("each group's pattern (as std::regex_search would run it) names exactly its own tensors", () => {
    for (const g of groupTensors(names)) {
      const re = new RegExp(g.pattern);
      expect(names.filter((n) => re.test(n))).toEqual(g.tensors);
    }
    expect(groupOf("v.blk.0.attn_q.weight").key).toBe("v.blk.0.attn_q");
  });
});
