#!/usr/bin/env bash
# Peak RSS of `moeq awq` on a synthetic Maverick-layout checkpoint (128 experts, MoE every 2nd layer, fused expert
# tensors, BF16; 4 layers so that it runs in minutes), measured with /usr/bin/time -v, calibrated on the fixture's
# validation text. Prints the peak and what one MoE layer's routed experts would take in f32 if held at once
# (moeq awq streams them one Linear at a time).
# Needs `npx tsc -b packages/cli` first. Usage: scripts/bench-awq-rss.sh [windows] [ctx]
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOWS="${1:-2}"
CTX="${2:-128}"
WORK="${MOEQ_BENCH_DIR:-/tmp/moeq-awq-rss-bench}"

source scripts/synthetic-checkpoint.sh
need_gnu_time_and_cli
synthetic_maverick_4_layers "$WORK"
rm -rf "$WORK/out"
run_with_peak_rss "$WORK" node packages/cli/bin/moeq.js awq "$WORK/ckpt" -o "$WORK/out" --data fixtures/data/brown-validation.txt \
  --windows "$WINDOWS" --ctx "$CTX" --json
EXPERTS_F32_MB=$(echo "$EXPERTS * 3 * $HIDDEN * $FF * 4 / 2^20" | bc -l)
ONE_EXPERT_MB=$(echo "$HIDDEN * $FF * 4 / 2^20" | bc -l)
printf 'checkpoint_bytes=%s windows=%s ctx=%s peak_rss_kb=%s (%.1f MB) wall=%s; one MoE layer'"'"'s routed experts in f32: %.1f MB, one expert Linear: %.1f MB\n' \
  "$CKPT_BYTES" "$WINDOWS" "$CTX" "$RSS_KB" "$(echo "$RSS_KB / 1024" | bc -l)" "$WALL" "$EXPERTS_F32_MB" "$ONE_EXPERT_MB"
sha256sum "$WORK"/out/*.safetensors
rm -rf "$WORK/out"
