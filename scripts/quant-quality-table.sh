#!/usr/bin/env bash
# Quality of every quantization moeq writes, on the fixture's test split vs BF16, all scored by our runtime
# (`moeq eval --task kld`, n_ctx 256, every chunk): GGUF Q8_0 / Q4_K_M / Q2_K (`moeq convert --outtype bf16` +
# `moeq quantize`), GPTQ 4-bit g128 (`moeq gptq`, 64 × 256 tokens of the validation split) and its round-to-nearest
# baseline (`moeq gptq --rtn`), FP8 per-tensor (dynamic per-token activations, and static input scales calibrated on
# 16 × 256 tokens of the validation split) / per-channel (per-token) / block (per-token-group 128) (`moeq fp8`; the
# runtime quantizes activations as vLLM does), AWQ 4-bit g128 (`moeq awq`, 16 × 256 tokens of the validation split)
# and its round-to-nearest baseline (`moeq awq --rtn`). Prints one Markdown table. Bits/weight: tensor data bits over
# weights of the text model (GGUF: the whole file; safetensors: vision tower excluded, quantized Linears counted by
# their unpacked size); file size: all weight files (safetensors include the BF16 vision tower, GGUF has none).
# Needs `npx tsc -b packages/cli` first. Usage: scripts/quant-quality-table.sh   (about 30-60 min on 2 shared cores;
# MOEQ_QUALITY_CHUNKS=N scores only N chunks, MOEQ_QUALITY_SMOKE=1 also calibrates on a few tokens: a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${MOEQ_QUALITY_DIR:-/tmp/moeq-quality}"
FIX=fixtures/tiny-llama4
TEST=fixtures/data/brown-test.txt
moeq() { node packages/cli/bin/moeq.js "$@"; }
[ -f packages/cli/dist/index.js ] || { echo "run 'npx tsc -b packages/cli' first" >&2; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK"
CHUNKS=(); [ -n "${MOEQ_QUALITY_CHUNKS:-}" ] && CHUNKS=(--chunks "$MOEQ_QUALITY_CHUNKS")
# AWQ on 16 windows beats RTN on PPL, KLD and same-top; on 2 it lost same-top (README).
GPTQ_CALIB=(--nsamples 64 --seqlen 256); CALIB=(--ctx 256 --windows 16)
[ -n "${MOEQ_QUALITY_SMOKE:-}" ] && { GPTQ_CALIB=(--nsamples 2 --seqlen 32); CALIB=(--ctx 32 --windows 1); }
VALID=fixtures/data/brown-validation.txt

for s in per-tensor per-channel block; do moeq fp8 "$FIX" -o "$WORK/fp8-$s" --scheme "$s" --json > "$WORK/fp8-$s.summary.json"; done
moeq fp8 "$FIX" -o "$WORK/fp8-static" --scheme per-tensor --activations static --data "$VALID" "${CALIB[@]}" --json > "$WORK/fp8-static.summary.json"
moeq awq "$FIX" -o "$WORK/awq" --data "$VALID" "${CALIB[@]}" --json > "$WORK/awq.summary.json"
moeq awq "$FIX" -o "$WORK/rtn" --rtn --json > "$WORK/rtn.summary.json"
moeq gptq "$FIX" -o "$WORK/gptq" --data "$VALID" "${GPTQ_CALIB[@]}" --json > "$WORK/gptq.summary.json"
moeq gptq "$FIX" -o "$WORK/gptq-rtn" --rtn --json > "$WORK/gptq-rtn.summary.json"
moeq convert "$FIX" -o "$WORK/bf16.gguf" --outtype bf16 --json > /dev/null
for t in Q8_0 Q4_K_M Q2_K; do moeq quantize "$WORK/bf16.gguf" "$WORK/$t.gguf" "$t" --json > "$WORK/$t.summary.json"; done

moeq eval "$FIX" --task ppl --data "$TEST" --ctx 256 "${CHUNKS[@]}" --kld-base "$WORK/base.kld" --json > "$WORK/bf16.eval.json"
for m in Q8_0.gguf Q4_K_M.gguf Q2_K.gguf gptq gptq-rtn fp8-per-tensor fp8-static fp8-per-channel fp8-block awq rtn; do
  moeq eval "$WORK/$m" --task kld --base "$WORK/base.kld" --engine moeq "${CHUNKS[@]}" --json > "$WORK/${m%.gguf}.eval.json"
done

node --input-type=module -e '
import fs from "node:fs"; import path from "node:path"; import { openSafetensors } from "@moeq/formats";
const dir = process.argv[1];
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
const mib = (d) => fs.readdirSync(d).filter((f) => f.endsWith(".safetensors")).reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0) / 2 ** 20;
// GPTQ text bits/weight from the headers: a quantized Linear weighs rows × cols (scales [groups, out] × g_idx [in]).
async function gptqBits(d) {
  const ck = await openSafetensors(d);
  let bytes = 0, weights = 0;
  for (const t of ck.tensors.values()) {
    if (/vision_model|multi_modal_projector/.test(t.name)) continue;
    bytes += t.byteLength;
    const m = /^(.*)\.(qweight|qzeros|scales|g_idx)$/.exec(t.name);
    if (!m) weights += t.shape.reduce((a, b) => a * b, 1);
    else if (m[2] === "g_idx") weights += t.shape[0] * ck.tensors.get(m[1] + ".scales").shape[1];
  }
  await ck.close();
  return (bytes * 8) / weights;
}
const base = read("bf16.eval.json").metrics;
const rows = [["BF16 (fixtures/tiny-llama4)", "16.00", mib("fixtures/tiny-llama4"), base.ppl, null, null]];
for (const t of ["Q8_0", "Q4_K_M", "Q2_K"]) {
  const s = read(t + ".summary.json"); const e = read(t + ".eval.json").metrics;
  rows.push(["GGUF " + t, s.bitsPerWeight.toFixed(2), fs.statSync(path.join(dir, t + ".gguf")).size / 2 ** 20, e.ppl_q, e.kld_mean, e.same_top_p]);
}
for (const [m, label] of [["gptq", "GPTQ int4 g128 (zero point)"], ["gptq-rtn", "RTN int4 g128, GPTQ layout (`gptq --rtn`)"]]) {
  const g = read(m + ".eval.json").metrics;
  rows.push([label, (await gptqBits(path.join(dir, m))).toFixed(2), mib(path.join(dir, m)), g.ppl_q, g.kld_mean, g.same_top_p]);
}
const names = {
  "fp8-per-tensor": "FP8 E4M3 per-tensor, dynamic per-token activations",
  "fp8-static": "FP8 E4M3 per-tensor, static activation scales",
  "fp8-per-channel": "FP8 E4M3 per-channel, dynamic per-token activations",
  "fp8-block": "FP8 E4M3 block 128×128, per-token-group 128 activations",
  awq: "AWQ int4 g128 (zero point)",
  rtn: "RTN int4 g128, AWQ layout (`awq --rtn`)",
};
for (const [m, label] of Object.entries(names)) {
  const s = read(m + ".summary.json"); const e = read(m + ".eval.json").metrics;
  rows.push([label, s.bitsPerWeight.toFixed(2), mib(path.join(dir, m)), e.ppl_q, e.kld_mean, e.same_top_p]);
}
console.log("| model | bits/weight (text) | weight files (MiB) | PPL | mean KLD | same top |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [l, b, f, p, k, t] of rows) console.log(`| ${l} | ${b} | ${f.toFixed(2)} | ${p.toFixed(4)} | ${k === null ? "—" : k.toFixed(6)} | ${t === null ? "—" : (100 * t).toFixed(2) + " %"} |`);
' "$WORK"
