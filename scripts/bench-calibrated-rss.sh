#!/usr/bin/env bash
# Peak RSS of a calibrating command (`moeq gptq` or `moeq awq`) on a synthetic Maverick-layout checkpoint (128
# experts, MoE every 2nd layer, fused expert tensors, BF16; 4 layers so that it runs in minutes), measured with
# /usr/bin/time -v, calibrated on the fixture's validation text. Prints the peak next to
#   gptq: the bound one MoE layer plus its calibration activations sets (formula below), here and for real Maverick;
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
    # What moeq gptq holds at its peak in a MoE layer (routed experts' Hessians are deferred: only their rows are
    # kept, one expert's H is built when it is solved and dropped after):
    #   calibration activations  N·hidden·4            (N = nsamples·seqlen tokens, the layer inputs)
    #   routed rows              N·topk·(hidden+ff)·4  (each expert's gate/up and down inputs)
    #   solving one Linear       3·c²·8 + rows·c·20    (Σxxᵀ, H, its inverse; W f32, W f64, two dequantized copies)
    #   packed layer output      params·bits/8         (written as one shard at the end of the layer)
    #   weight store             min(checkpoint, 1 GiB)
    # bound_mb hidden ff experts qdim kvdim tokens topk bits store_bytes
    bound_mb() {
      echo "h=$1; f=$2; e=$3; q=$4; kv=$5; n=$6; k=$7; b=$8; s=$9;
        c=f; if (h > f) c=h; r=h; if (f > r) r=f;
        params=(e + 1) * 3 * h * f + h * (q + 2 * kv) + q * h;
        (n * h * 4 + n * k * (h + f) * 4 + 3 * c^2 * 8 + r * c * 20 + params * b / 8 + s) / 2^20" | bc -l
    }
    STORE=$(( CKPT_BYTES < 2**30 ? CKPT_BYTES : 2**30 ))
    SYN_MB=$(bound_mb "$HIDDEN" "$FF" "$EXPERTS" 512 128 $(( NSAMPLES * SEQLEN )) 1 4 "$STORE")
    # Llama 4 Maverick: hidden 5120, expert ff 8192, 128 experts + 1 shared, 40 q heads / 8 kv heads of 128, top-1,
    # at the default --nsamples 128 --seqlen 512 and 4 bits.
    MAV_MB=$(bound_mb 5120 8192 128 5120 1024 $(( 128 * 512 )) 1 4 $(( 2**30 )))
    printf 'checkpoint_bytes=%s nsamples=%s seqlen=%s peak_rss_kb=%s (%.1f MB) wall=%s; bound (without Node itself): %.1f MB here, %.1f MB for Maverick (128×512 tokens, 4 bits)\n' \
      "$CKPT_BYTES" "$NSAMPLES" "$SEQLEN" "$RSS_KB" "$(echo "$RSS_KB / 1024" | bc -l)" "$WALL" "$SYN_MB" "$MAV_MB"
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
