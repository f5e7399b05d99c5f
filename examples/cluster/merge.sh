#!/bin/sh
# The merge step after every shard-job.sh / shard-cmd.sh task finished: assembles <output> (a GGUF, an imatrix or
# a gptq/awq folder) from its N shard files, byte-identical to the unsharded run. Refuses (exit 2, nothing written)
# a missing, duplicate, truncated or foreign shard.
# usage: merge.sh <output>   (N from MOEQ_SHARD_COUNT)
set -eu
out=$1
i=1
set --
while [ "$i" -le "$MOEQ_SHARD_COUNT" ]; do
  set -- "$@" "$out.shard-$i-of-$MOEQ_SHARD_COUNT"
  i=$((i + 1))
done
exec ${MOEQ:-moeq} merge "$@" -o "$out"
