#!/usr/bin/env bash
# What an importance matrix buys on the fixture: Q4_K_M, Q3_K_M and Q2_K quantized without and with an imatrix that
# `moeq imatrix` collects from the calibration split (fixtures/data/brown-calibration.txt, Brown *train* documents),
# each scored against F16 on the test split (fixtures/data/brown-test.txt): mean KLD and same-top.
# Logits come from llama.cpp's forward pass (moeq eval --engine llama.cpp) so the whole test split stays quick.
# Usage: bash scripts/imatrix-quality.sh   (outputs under out/imatrix-quality/, gitignored; prints a Markdown table)
# Environment: MOEQ_IQ_OUT (default out/imatrix-quality), MOEQ_IQ_CHUNKS (test chunks of 256, default 40; "all" for 225),
#              MOEQ_IQ_CAL_CHUNKS (calibration chunks of 256, default all), MOEQ_IQ_THREADS (default 2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${MOEQ_IQ_OUT:-out/imatrix-quality}
threads=${MOEQ_IQ_THREADS:-2}
chunks=${MOEQ_IQ_CHUNKS:-40}
[ "$chunks" = all ] && chunks=
cal_chunks=${MOEQ_IQ_CAL_CHUNKS:-}
moeq() { node packages/cli/bin/moeq.js "$@"; }
mkdir -p "$out"
npx tsc -b packages/cli

moeq convert fixtures/tiny-llama4 -o "$out/F16.gguf" --outtype f16 --threads "$threads" >/dev/null 2>&1
moeq imatrix "$out/F16.gguf" --data fixtures/data/brown-calibration.txt --ctx 256 ${cal_chunks:+--chunks "$cal_chunks"} \
  --threads "$threads" -o "$out/imatrix.gguf" --json >"$out/imatrix.json" 2>"$out/imatrix.stderr"
test_args=(--data fixtures/data/brown-test.txt --ctx 256 ${chunks:+--chunks "$chunks"} --engine llama.cpp --threads "$threads")
moeq eval "$out/F16.gguf" --task ppl "${test_args[@]}" --kld-base "$out/base.kld" --json >"$out/F16.eval.json"
for t in Q4_K_M Q3_K_M Q2_K; do
  moeq quantize "$out/F16.gguf" "$out/$t.gguf" "$t" --threads "$threads" --json >/dev/null
  moeq quantize "$out/F16.gguf" "$out/$t-imatrix.gguf" "$t" --imatrix "$out/imatrix.gguf" --threads "$threads" --json >/dev/null
  for v in "$t" "$t-imatrix"; do
    moeq eval "$out/$v.gguf" --task kld --base "$out/base.kld" "${test_args[@]}" --json >"$out/$v.eval.json"
  done
done

MOEQ_IQ_OUT="$out" node --input-type=module - <<'JS'
import { readFileSync } from "node:fs";
import { join } from "node:path";
const out = process.env.MOEQ_IQ_OUT;
const read = (f) => JSON.parse(readFileSync(join(out, f), "utf8"));
const im = read("imatrix.json");
const kld = (v) => read(`${v}.eval.json`).results.kld;
const first = kld("Q2_K");
console.log(`imatrix: ${im.chunks} chunks × ${im.chunkSize} tokens of brown-calibration.txt; scored: ${first.tokensScored} tokens of brown-test.txt (ctx 256), llama.cpp logits\n`);
console.log("| type | mean KLD | mean KLD, imatrix | same top | same top, imatrix |");
console.log("|---|---:|---:|---:|---:|");
for (const t of ["Q4_K_M", "Q3_K_M", "Q2_K"]) {
  const a = kld(t);
  const b = kld(`${t}-imatrix`);
  const pct = (x) => `${(100 * x).toFixed(2)} %`;
  const k = (x) => `${x.kldMean.value.toFixed(5)} ± ${x.kldMean.stderr.toFixed(5)}`;
  console.log(`| ${t} | ${k(a)} | ${k(b)} | ${pct(a.sameTopP.value)} | ${pct(b.sameTopP.value)} |`);
}
JS
