#!/usr/bin/env bash
# Peak RSS of `moeq convert` on a ≥ 2 GB synthetic Maverick-layout checkpoint (128 experts, MoE every
# 2nd layer, fused expert tensors, BF16), measured with /usr/bin/time -v. Fails (exit 1) at ≥ 512 MB.
# Needs `npx tsc -b packages/cli` first. Usage: scripts/bench-convert-rss.sh [outtype] [threads]
# outtype fp8-per-tensor|fp8-per-channel|fp8-block measures `moeq fp8 --scheme …` instead, and also fails unless
# peak RSS < largest tensor of the checkpoint + 256 MB (it streams one matrix / one expert at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
OUTTYPE="${1:-f16}"
THREADS="${2:-1}"
WORK="${MOEQ_BENCH_DIR:-/tmp/moeq-rss-bench}"
LIMIT_KB=$((512 * 1024))

source scripts/synthetic-checkpoint.sh
need_gnu_time_and_cli
synthetic_checkpoint "$WORK" '{ layout: "maverick", hidden: 512, ffExpert: 512, ffDense: 1024, layers: 24,
  experts: 128, heads: 8, kvHeads: 2, headDim: 64, shards: 4, multimodal: true, seed: 5 }'
for f in preprocessor_config.json processor_config.json; do [ -f "$WORK/ckpt/$f" ] || cp "fixtures/tiny-llama4/$f" "$WORK/ckpt/"; done
CKPT_BYTES=$(du -cb "$WORK"/ckpt/*.safetensors | tail -1 | cut -f1)
echo "checkpoint: $CKPT_BYTES bytes of safetensors" >&2

if [[ "$OUTTYPE" == fp8-* ]]; then
  # largest tensor in the checkpoint's headers (bytes)
  LARGEST=$(node -e 'import("@moeq/formats").then(async (f) => { const c = await f.openSafetensors(process.argv[1]);
    console.log(Math.max(...[...c.tensors.values()].map((t) => t.byteLength))); await c.close(); })' "$WORK/ckpt")
  LIMIT_KB=$(( (LARGEST + 256 * 1024 * 1024) / 1024 ))
  rm -rf "$WORK/out-fp8"
  /usr/bin/time -v node packages/cli/bin/moeq.js fp8 "$WORK/ckpt" -o "$WORK/out-fp8" --scheme "${OUTTYPE#fp8-}" --json \
    > "$WORK/summary.json" 2> "$WORK/time.txt" || { cat "$WORK/time.txt" >&2; exit 1; }
  OUT_BYTES=$(du -cb "$WORK"/out-fp8/*.safetensors | tail -1 | cut -f1)
  echo "largest_tensor_bytes=$LARGEST limit_kb=$LIMIT_KB"
else
  /usr/bin/time -v node packages/cli/bin/moeq.js convert "$WORK/ckpt" -o "$WORK/out.gguf" --outtype "$OUTTYPE" --threads "$THREADS" --json \
    > "$WORK/summary.json" 2> "$WORK/time.txt" || { cat "$WORK/time.txt" >&2; exit 1; }
  OUT_BYTES=$(stat -c %s "$WORK/out.gguf")
fi
RSS_KB=$(grep "Maximum resident set size" "$WORK/time.txt" | awk '{print $NF}')
WALL=$(grep "Elapsed (wall clock)" "$WORK/time.txt" | awk '{print $NF}')
printf 'checkpoint_bytes=%s output_bytes=%s outtype=%s threads=%s peak_rss_kb=%s (%.1f MB) wall=%s\n' \
  "$CKPT_BYTES" "$OUT_BYTES" "$OUTTYPE" "$THREADS" "$RSS_KB" "$(echo "$RSS_KB / 1024" | bc -l)" "$WALL"
rm -rf "$WORK/out.gguf" "$WORK/out-fp8"
if [ "$CKPT_BYTES" -lt 2000000000 ]; then echo "checkpoint is smaller than 2 GB" >&2; exit 1; fi
if [ "$RSS_KB" -ge "$LIMIT_KB" ]; then echo "peak RSS ${RSS_KB} kB is not below the ${LIMIT_KB} kB limit" >&2; exit 1; fi
