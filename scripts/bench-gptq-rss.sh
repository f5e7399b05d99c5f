#!/usr/bin/env bash
# Peak RSS of `moeq gptq` on a synthetic Maverick-layout checkpoint (128 experts, MoE every 2nd layer, fused expert
# tensors, BF16; 4 layers so that it runs in minutes), measured with /usr/bin/time -v, calibrated on the fixture's
# validation text. Prints the peak and what one decoder layer holds (weights in f32 + the layer's Hessians in f64).
# Needs `npx tsc -b packages/cli` first. Usage: scripts/bench-gptq-rss.sh [nsamples] [seqlen]
set -euo pipefail
cd "$(dirname "$0")/.."
NSAMPLES="${1:-8}"
SEQLEN="${2:-128}"
WORK="${MOEQ_BENCH_DIR:-/tmp/moeq-gptq-rss-bench}"

source scripts/synthetic-checkpoint.sh
need_gnu_time_and_cli
synthetic_maverick_4_layers "$WORK"
rm -rf "$WORK/out" "$WORK/out.partial"
run_with_peak_rss "$WORK" node packages/cli/bin/moeq.js gptq "$WORK/ckpt" -o "$WORK/out" --data fixtures/data/brown-validation.txt \
  --nsamples "$NSAMPLES" --seqlen "$SEQLEN" --json
# One MoE layer: its expert + shared-expert weights as f32, and one f64 Hessian per gate/up pair and per down_proj.
LAYER_F32_MB=$(echo "($EXPERTS + 1) * 3 * $HIDDEN * $FF * 4 / 2^20" | bc -l)
HESS_MB=$(echo "($EXPERTS + 1) * ($HIDDEN^2 + $FF^2) * 8 / 2^20" | bc -l)
printf 'checkpoint_bytes=%s nsamples=%s seqlen=%s peak_rss_kb=%s (%.1f MB) wall=%s; one MoE layer: weights %.1f MB f32, Hessians %.1f MB f64\n' \
  "$CKPT_BYTES" "$NSAMPLES" "$SEQLEN" "$RSS_KB" "$(echo "$RSS_KB / 1024" | bc -l)" "$WALL" "$LAYER_F32_MB" "$HESS_MB"
cat "$WORK/summary.json" | head -c 400; echo
rm -rf "$WORK/out"
