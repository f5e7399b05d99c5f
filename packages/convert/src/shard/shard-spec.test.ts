import { describe, expect, it } from "vitest";
import { InputError } from "@moeq/formats";
import { assignUnitsToShards, parseShardSpec, unitsOfShard } from "./shard-spec.js";

describe("parseShardSpec", () => {
  it("reads i/N, 1-based", () => {
    expect(parseShardSpec("1/1", {})).toEqual({ index: 1, count: 1 });
    expect(parseShardSpec("3/7", {})).toEqual({ index: 3, count: 7 });
  });

  it.each(["0/3", "4/3", "1/0", "a/b", "1/3/4", "", "-1/3", "1.5/3"])("refuses %j with exit-2 InputError", (t) => {
    expect(() => parseShardSpec(t, {})).toThrow(InputError);
  });

  it("auto: Kubernetes' 0-based JOB_COMPLETION_INDEX with MOEQ_SHARD_COUNT or /N", () => {
    expect(parseShardSpec("auto", { JOB_COMPLETION_INDEX: "0", MOEQ_SHARD_COUNT: "4" })).toEqual({ index: 1, count: 4 });
    expect(parseShardSpec("auto/4", { JOB_COMPLETION_INDEX: "3" })).toEqual({ index: 4, count: 4 });
    expect(() => parseShardSpec("auto", { JOB_COMPLETION_INDEX: "3" })).toThrow(/MOEQ_SHARD_COUNT/);
    expect(() => parseShardSpec("auto/4", { JOB_COMPLETION_INDEX: "4" })).toThrow(InputError);
  });

  it("auto: Slurm's task id offset by SLURM_ARRAY_TASK_MIN, count SLURM_ARRAY_TASK_COUNT", () => {
    expect(parseShardSpec("auto", { SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_MIN: "5", SLURM_ARRAY_TASK_COUNT: "3" })).toEqual({ index: 1, count: 3 });
    expect(parseShardSpec("auto", { SLURM_ARRAY_TASK_ID: "2", SLURM_ARRAY_TASK_COUNT: "3" })).toEqual({ index: 3, count: 3 });
  });

  it("auto: MOEQ_SHARD_INDEX is 1-based; nothing set is an error", () => {
    expect(parseShardSpec("auto", { MOEQ_SHARD_INDEX: "2", MOEQ_SHARD_COUNT: "2" })).toEqual({ index: 2, count: 2 });
    expect(() => parseShardSpec("auto", {})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => parseShardSpec("auto", { MOEQ_SHARD_INDEX: "x\u001b[2J", MOEQ_SHARD_COUNT: "2" })).toThrow(/must be a non-negative integer/);
  });
});

describe("assignUnitsToShards", () => {
  it("gives every unit exactly one shard, and the same split every time", () => {
    const costs = [5, 1, 9, 3, 3, 7, 2, 8, 4, 6];
    for (const n of [1, 2, 3, 7]) {
      const owner = assignUnitsToShards(costs, n);
      expect(owner).toEqual(assignUnitsToShards(costs, n));
      const all = Array.from({ length: n }, (_, k) => unitsOfShard(costs, { index: k + 1, count: n })).flat();
      expect(all.sort((a, b) => a - b)).toEqual(costs.map((_, i) => i));
    }
  });

  it("balances by cost: no shard carries more than the mean plus the largest unit", () => {
    const costs = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 97) + 1);
    const n = 7;
    const owner = assignUnitsToShards(costs, n);
    const load = new Array<number>(n).fill(0);
    owner.forEach((s, i) => (load[s - 1] += costs[i]));
    const mean = costs.reduce((a, b) => a + b, 0) / n;
    expect(Math.max(...load)).toBeLessThanOrEqual(mean + Math.max(...costs));
    expect(Math.min(...load)).toBeGreaterThan(0);
  });
});
