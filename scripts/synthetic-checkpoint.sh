# Sourced by the peak-RSS scripts: GNU time, the built CLI, and a synthetic Llama 4 checkpoint built once.
# synthetic_checkpoint <work-dir> <writeSyntheticLlama4 options as a JS object literal>  → <work-dir>/ckpt

need_gnu_time_and_cli() {
  if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time" >&2
    apt-get install -y time >/dev/null
  fi
  [ -f packages/cli/dist/index.js ] || { echo "run 'npx tsc -b packages/cli' first" >&2; exit 2; }
}

synthetic_checkpoint() {
  local work="$1" opts="$2"
  mkdir -p "$work/gen"
  if [ ! -f "$work/ckpt/config.json" ]; then
    echo "building the synthetic checkpoint in $work/ckpt" >&2
    npx tsc --outDir "$work/gen" --module nodenext --moduleResolution nodenext --target es2023 --skipLibCheck --types node test-support/synthetic-llama4.ts
    echo '{"type":"module"}' > "$work/gen/package.json"
    ln -sfn "$PWD/node_modules" "$work/gen/node_modules" # the generator imports @moeq/formats from outside the repo
    node -e "
      const [gen, dir, tok] = process.argv.slice(1);
      import(gen).then((m) => m.writeSyntheticLlama4(dir, { ...$opts, tokenizerFrom: tok }));
    " "$work/gen/synthetic-llama4.js" "$work/ckpt" "$PWD/fixtures/tiny-llama4"
  fi
}

# The 4-layer Maverick-layout checkpoint the calibrating commands' peak-RSS scripts share (128 experts of ff 512,
# hidden 512, MoE every 2nd layer, fused BF16 expert tensors); sets HIDDEN, FF and EXPERTS for their printouts.
synthetic_maverick_4_layers() {
  HIDDEN=512; FF=512; EXPERTS=128
  synthetic_checkpoint "$1" "{ layout: 'maverick', hidden: $HIDDEN, ffExpert: $FF, ffDense: 1024, layers: 4,
  experts: $EXPERTS, heads: 8, kvHeads: 2, headDim: 64, shards: 2, multimodal: true, seed: 5 }"
}

# run_with_peak_rss <work-dir> <command…>: runs the command under GNU time (stdout → <work-dir>/summary.json,
# time's report → <work-dir>/time.txt); sets CKPT_BYTES (of <work-dir>/ckpt), RSS_KB and WALL.
run_with_peak_rss() {
  local work="$1"; shift
  CKPT_BYTES=$(du -cb "$work"/ckpt/*.safetensors | tail -1 | cut -f1)
  /usr/bin/time -v "$@" > "$work/summary.json" 2> "$work/time.txt" || { cat "$work/time.txt" >&2; exit 1; }
  RSS_KB=$(grep "Maximum resident set size" "$work/time.txt" | awk '{print $NF}')
  WALL=$(grep "Elapsed (wall clock)" "$work/time.txt" | awk '{print $NF}')
}
