// The examples/cluster scripts as the local job-array tests run them: the built CLI as $MOEQ, the scheduler's
// variables in the environment.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/moeq.js", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../../examples/cluster", import.meta.url));

/** The Kubernetes, Slurm and generic variables of shards 1, 2 and 3 of 3. */
export const ARRAY_ENVS: readonly Record<string, string>[] = [
  { MOEQ_SHARD_COUNT: "3", JOB_COMPLETION_INDEX: "0" },
  { SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_COUNT: "3" },
  { MOEQ_SHARD_COUNT: "3", MOEQ_SHARD_INDEX: "3" },
];

/** Runs `sh examples/cluster/<script> args…` with `env` added; resolves with its exit code and stderr. */
export function clusterScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const p = spawn("sh", [join(EXAMPLES, script), ...args], { env: { ...process.env, MOEQ: `${process.execPath} ${BIN}`, ...env } });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, err }));
  });
}
