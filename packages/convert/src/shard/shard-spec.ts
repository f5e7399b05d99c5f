/**
 * Which part of a job this process does: `--shard i/N` (1-based, as jest's and playwright's `--shard`), or `auto`,
 * read from the scheduler that started the process. One parser and one assignment rule for every sharded command,
 * so `convert`, `quantize`, `imatrix`, `gptq`, `awq` and `fp8` split work the same way.
 */
import { InputError } from "@moeq/formats";

/** Shard `index` (1…count) of `count`. */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** The whole job in one piece: what a run without `--shard` does. */
export const WHOLE_JOB: ShardSpec = { index: 1, count: 1 };

/** The environment variables `--shard auto` reads, in the order it tries them. */
export const SHARD_ENV = {
  /** Kubernetes Indexed Job: 0-based completion index (count: MOEQ_SHARD_COUNT, the Job's `completions`). */
  kubernetes: "JOB_COMPLETION_INDEX",
  /** Slurm job array: the task id, offset by SLURM_ARRAY_TASK_MIN; count SLURM_ARRAY_TASK_COUNT. */
  slurm: "SLURM_ARRAY_TASK_ID",
  /** Anything else (a GitHub Actions matrix, a shell loop): 1-based MOEQ_SHARD_INDEX with MOEQ_SHARD_COUNT. */
  generic: "MOEQ_SHARD_INDEX",
} as const;

const MAX_SHARDS = 100_000;

function integer(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d{1,9}$/.test(text.trim())) throw new InputError("BAD_SHARD", `${what} must be a non-negative integer, got ${quote(text)}`);
  return Number(text.trim());
}

function quote(text: string | undefined): string {
  if (text === undefined) return "nothing";
  const cut = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(cut);
}

function checked(index: number, count: number, source: string): ShardSpec {
  if (count < 1 || count > MAX_SHARDS) throw new InputError("BAD_SHARD", `${source}: shard count must be 1…${MAX_SHARDS}, got ${count}`);
  if (index < 1 || index > count) throw new InputError("BAD_SHARD", `${source}: shard index must be 1…${count}, got ${index}`);
  return { index, count };
}

/** The count `auto` uses when the scheduler does not say it: MOEQ_SHARD_COUNT. */
function countFromEnv(env: NodeJS.ProcessEnv, fallback: string | undefined, source: string): number {
  const text = env.MOEQ_SHARD_COUNT ?? fallback;
  if (text === undefined) throw new InputError("BAD_SHARD", `--shard auto: ${source} is set but the shard count is not (set MOEQ_SHARD_COUNT)`);
  return integer(text, env.MOEQ_SHARD_COUNT !== undefined ? "MOEQ_SHARD_COUNT" : source);
}

/**
 * Parses `--shard`: `i/N` (1 ≤ i ≤ N), or `auto` / `auto/N`, which take the index from JOB_COMPLETION_INDEX
 * (Kubernetes, 0-based), SLURM_ARRAY_TASK_ID (Slurm, minus SLURM_ARRAY_TASK_MIN) or MOEQ_SHARD_INDEX (1-based),
 * and the count from `/N`, MOEQ_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT. InputError (exit 2) on anything else.
 */
export function parseShardSpec(text: string, env: NodeJS.ProcessEnv = process.env): ShardSpec {
  const t = text.trim();
  const auto = /^auto(?:\/(\d{1,9}))?$/.exec(t);
  if (auto) {
    const fixedCount = auto[1] === undefined ? undefined : Number(auto[1]);
    if (env[SHARD_ENV.kubernetes] !== undefined) {
      const i = integer(env[SHARD_ENV.kubernetes], SHARD_ENV.kubernetes);
      return checked(i + 1, fixedCount ?? countFromEnv(env, undefined, SHARD_ENV.kubernetes), `--shard auto (${SHARD_ENV.kubernetes})`);
    }
    if (env[SHARD_ENV.slurm] !== undefined) {
      const id = integer(env[SHARD_ENV.slurm], SHARD_ENV.slurm);
      const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : integer(env.SLURM_ARRAY_TASK_MIN, "SLURM_ARRAY_TASK_MIN");
      const count = fixedCount ?? countFromEnv(env, env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT");
      return checked(id - min + 1, count, `--shard auto (${SHARD_ENV.slurm})`);
    }
    if (env[SHARD_ENV.generic] !== undefined) {
      const i = integer(env[SHARD_ENV.generic], SHARD_ENV.generic);
      return checked(i, fixedCount ?? countFromEnv(env, undefined, SHARD_ENV.generic), `--shard auto (${SHARD_ENV.generic})`);
    }
    throw new InputError(
      "BAD_SHARD",
      `--shard auto: none of ${SHARD_ENV.kubernetes}, ${SHARD_ENV.slurm} or ${SHARD_ENV.generic} is set (run under a scheduler, or pass --shard i/N)`,
    );
  }
  const m = /^(\d{1,9})\/(\d{1,9})$/.exec(t);
  if (!m) throw new InputError("BAD_SHARD", `--shard must be i/N (1-based) or auto, got ${quote(text)}`);
  return checked(Number(m[1]), Number(m[2]), "--shard");
}

/** `3/7` — how a shard names itself in file names, progress lines and errors. */
export function shardLabel(s: ShardSpec): string {
  return `${s.index}/${s.count}`;
}

/**
 * Deals work units to `count` shards, balanced by `costs` (bytes, FLOPs — whatever the command measures):
 * longest-processing-time first, each unit to the least-loaded shard, ties to the lower unit index and the lower
 * shard. Pure and deterministic, so every process of an array computes the same split without talking to the others.
 * Returns, per unit, its shard (1-based).
 */
export function assignUnitsToShards(costs: readonly number[], count: number): number[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count must be a positive integer, got ${count}`);
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  const load = new Float64Array(count);
  const owner = new Array<number>(costs.length);
  for (const u of order) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    load[best] += costs[u];
    owner[u] = best + 1;
  }
  return owner;
}

/** The unit indices shard `s` does, in their original order. */
export function unitsOfShard(costs: readonly number[], s: ShardSpec): number[] {
  const owner = assignUnitsToShards(costs, s.count);
  const mine: number[] = [];
  for (let i = 0; i < owner.length; i++) if (owner[i] === s.index) mine.push(i);
  return mine;
}
