#!/bin/sh
# One shard of any sharded moeq command (the calibrated ones too): every scheduler example can run this instead of
# shard-job.sh. The shard index comes from the scheduler (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or
# MOEQ_SHARD_INDEX), the count from MOEQ_SHARD_COUNT (or SLURM_ARRAY_TASK_COUNT). Writes <output>.shard-i-of-N.
# usage: shard-cmd.sh <moeq command and its arguments, -o output included>, e.g.
#   shard-cmd.sh imatrix /data/maverick-f16.gguf --data /data/calibration.txt -o /data/imatrix.gguf
#   shard-cmd.sh gptq /data/Llama-4-Maverick --data /data/calibration.txt -o /data/maverick-gptq   (shards meet in /data/maverick-gptq.parts/)
#   shard-cmd.sh awq /data/Llama-4-Maverick --data /data/calibration.txt -o /data/maverick-awq
# then: MOEQ_SHARD_COUNT=N sh examples/cluster/merge.sh <output>
set -eu
exec ${MOEQ:-moeq} "$@" --shard auto
