#!/usr/bin/env bash
# Peak RSS of a calibrating command (`moeq gptq` or `moeq awq`) on a synthetic Maverick-layout checkpoint (128
# experts, MoE every 2nd layer, fused expert tensors, BF16; 4 layers so that it runs in minutes), measured with
# /usr/bin/time -v, calibrated on the fixture's validation text. Prints the peak next to what one MoE layer would take
#   gptq: one decoder layer's weights in f32 + its Hessians in f64;
#   awq:  one MoE layer's routed experts in f32 if held at once (moeq awq streams them one Linear at a time).
# Needs `npx tsc -b packages/cli` first.
# Usage: scripts/bench-calibrated-rss.sh gptq [nsamples=8] [seqlen=128]
#        scripts/bench-calibrated-rss.sh awq [windows=2] [ctx=128]
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:?usage: scripts/bench-calibrated-rss.sh gptq|awq [count] [length]}"
case "$MODE" in gptq|awq) ;; *) echo "usage: scripts/bench-calibrated-rss.sh gptq|awq [count] [length]" >&2; exit 2 ;; esac
WORK="${MOEQ_BENCH_DIR:-/tmp/moeq-$MODE-rss-bench}"

source scripts/synthetic-checkpoint.sh
need_gnu_time_and_cli
synthetic_maverick_4_layers "$WORK"
rm -rf "$WORK/out" "$WORK/out.partial"
MOEQ=(node packages/cli/bin/moeq.js "$MODE" "$WORK/ckpt" -o "$WORK/out" --data fixtures/data/brown-validation.txt --json)
case "$MODE" in
  gptq)
    NSAMPLES="${2:-8}"; SEQLEN="${3:-128}"
    run_with_peak_rss "$WORK" "${MOEQ[@]}" --nsamples "$NSAMPLES" --seqlen "$SEQLEN"
    # One MoE layer: its expert + shared-expert weights as f32, and one f64 Hessian per gate/up pair and per down_proj.
    LAYER_F32_MB=$(echo "($EXPERTS + 1) * 3 * $HIDDEN * $FF * 4 / 2^20" | bc -l)
    HESS_MB=$(echo "($EXPERTS + 1) * ($HIDDEN^2 + $FF^2) * 8 / 2^20" | bc -l)
    printf 'checkpoint_bytes=%s nsamples=%s seqlen=%s peak_rss_kb=%s (%.1f MB) wall=%s; one MoE layer: weights %.1f MB f32, Hessians %.1f MB f64\n' \
      "$CKPT_BYTES" "$NSAMPLES" "$SEQLEN" "$RSS_KB" "$(echo "$RSS_KB / 1024" | bc -l)" "$WALL" "$LAYER_F32_MB" "$HESS_MB"
    head -c 400 "$WORK/summary.json"; echo
    ;;
  awq)
    WINDOWS="${2:-2}"; CTX="${3:-128}"
    run_with_peak_rss "$WORK" "${MOEQ[@]}" --windows "$WINDOWS" --ctx "$CTX"
    EXPERTS_F32_MB=$(echo "$EXPERTS * 3 * $HIDDEN * $FF * 4 / 2^20" | bc -l)
    ONE_EXPERT_MB=$(echo "$HIDDEN * $FF * 4 / 2^20" | bc -l)
    printf 'checkpoint_bytes=%s windows=%s ctx=%s peak_rss_kb=%s (%.1f MB) wall=%s; one MoE layer'"'"'s routed experts in f32: %.1f MB, one expert Linear: %.1f MB\n' \
      "$CKPT_BYTES" "$WINDOWS" "$CTX" "$RSS_KB" "$(echo "$RSS_KB / 1024" | bc -l)" "$WALL" "$EXPERTS_F32_MB" "$ONE_EXPERT_MB"
    sha256sum "$WORK"/out/*.safetensors
    ;;
esac
rm -rf "$WORK/out"
