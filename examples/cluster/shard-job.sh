#!/bin/sh
# One shard of a sharded quantize: every scheduler example below runs this once per array task.
# usage: shard-job.sh <input f16 GGUF> <output GGUF> <file type>
# The shard index comes from the scheduler (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or MOEQ_SHARD_INDEX),
# the count from MOEQ_SHARD_COUNT (or SLURM_ARRAY_TASK_COUNT). Writes <output>.shard-i-of-N.
set -eu
exec ${MOEQ:-moeq} quantize "$1" "$2" "$3" --shard auto
