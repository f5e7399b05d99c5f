#!/usr/bin/env bash
# Quality of the safetensors quantizations on the fixture's test split vs BF16 (`moeq eval --task kld`, n_ctx 256,
# every chunk): FP8 per-tensor / per-channel / block (`moeq fp8`), AWQ 4-bit g128 (`moeq awq`, 2 × 256 tokens of the
# validation split) and its round-to-nearest baseline (`moeq awq --rtn`). Prints the Markdown table the README shows.
# Needs `npx tsc -b packages/cli` first. Usage: scripts/quant-quality-table.sh   (about 30 min on 2 shared cores)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${MOEQ_QUALITY_DIR:-/tmp/moeq-quality}"
FIX=fixtures/tiny-llama4
TEST=fixtures/data/brown-test.txt
moeq() { node packages/cli/bin/moeq.js "$@"; }
[ -f packages/cli/dist/index.js ] || { echo "run 'npx tsc -b packages/cli' first" >&2; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK"

for s in per-tensor per-channel block; do moeq fp8 "$FIX" -o "$WORK/fp8-$s" --scheme "$s" --json > "$WORK/fp8-$s.summary.json"; done
moeq awq "$FIX" -o "$WORK/awq" --data fixtures/data/brown-validation.txt --ctx 256 --windows 2 --json > "$WORK/awq.summary.json"
moeq awq "$FIX" -o "$WORK/rtn" --rtn --json > "$WORK/rtn.summary.json"

moeq eval "$FIX" --task ppl --data "$TEST" --ctx 256 --kld-base "$WORK/base.kld" --json > "$WORK/bf16.eval.json"
for m in fp8-per-tensor fp8-per-channel fp8-block awq rtn; do
  moeq eval "$WORK/$m" --task kld --base "$WORK/base.kld" --json > "$WORK/$m.eval.json"
done

node -e '
const fs = require("fs"); const path = require("path"); const dir = process.argv[1];
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
const mib = (d) => fs.readdirSync(d).filter((f) => f.endsWith(".safetensors")).reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0) / 2 ** 20;
const base = read("bf16.eval.json").metrics;
const rows = [["BF16 (fixtures/tiny-llama4)", "16.00", mib("fixtures/tiny-llama4"), base.ppl, null, null]];
const names = { "fp8-per-tensor": "FP8 E4M3 per-tensor", "fp8-per-channel": "FP8 E4M3 per-channel", "fp8-block": "FP8 E4M3 block 128×128", awq: "AWQ int4 g128 (zero point)", rtn: "RTN int4 g128 (zero point)" };
for (const [m, label] of Object.entries(names)) {
  const s = read(m + ".summary.json"); const e = read(m + ".eval.json").metrics;
  rows.push([label, s.bitsPerWeight.toFixed(2), mib(path.join(dir, m)), e.ppl_q, e.kld_mean, e.same_top_p]);
}
console.log("| model | bits/weight (text) | safetensors (MiB, incl. vision) | PPL | mean KLD | same top |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [l, b, f, p, k, t] of rows) console.log(`| ${l} | ${b} | ${f.toFixed(2)} | ${p.toFixed(4)} | ${k === null ? "—" : k.toFixed(6)} | ${t === null ? "—" : (100 * t).toFixed(2) + " %"} |`);
' "$WORK"
