#!/bin/sh
# Slurm job array: 16 tasks, each quantizes one shard (SLURM_ARRAY_TASK_ID → --shard auto, count from
# SLURM_ARRAY_TASK_COUNT), then a merge job that starts when every task succeeded:
#   jid=$(sbatch --parsable examples/cluster/slurm-array.sh)
#   MOEQ_SHARD_COUNT=16 sbatch --dependency=afterok:$jid --wrap "sh examples/cluster/merge.sh /shared/maverick-Q4_K_M.gguf"
# The other sharded commands run the same way with shard-cmd.sh in place of shard-job.sh, e.g.
#   sh examples/cluster/shard-cmd.sh imatrix|gptq|awq <input> --data <text> -o <output>   (units: README, cluster section;
#   gptq's shards meet after each layer in <output>.parts/, so all N must run at once on a shared folder)
#SBATCH --job-name=moeq-quantize
#SBATCH --array=0-15
#SBATCH --cpus-per-task=16
#SBATCH --mem=32G
set -eu
sh examples/cluster/shard-job.sh /shared/maverick-f16.gguf /shared/maverick-Q4_K_M.gguf q4_k_m
