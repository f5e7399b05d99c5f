// Randomised sweep: random distributions × random magnitudes from 1e-40 (float32 subnormals) to 1e29 (fp16 and
// int8 overflow), imatrix with zero and tiny entries; WebAssembly path and TypeScript reference vs ggml.
// MOEQ_QUANT_SWEEP=<n> widens it (1500 seeds were run during development; the default keeps CI fast).
import { expect, it } from "vitest";
import { GGML_TYPE_INFO, ggmlTypeName } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES, getReferenceCodec, quantize, quantizeRequiresImatrix } from "./index.js";
import { ggmlQuantizeChunk } from "@moeq/test-support/ggml-quants";
import { DISTRIBUTIONS, GRID_IQUANT_TYPES, describeMismatch, makeImatrix, makeRows, rng } from "./test-utils/rows.js";

it("matches ggml_quantize_chunk over random magnitudes and imatrix shapes", () => {
  const names = Object.keys(DISTRIBUTIONS);
  const failures: string[] = [];
  const seeds = Number(process.env.MOEQ_QUANT_SWEEP ?? 24);
  for (let seed = 1000; seed < 1000 + seeds; seed++) {
    const r = rng(seed);
    const name = names[Math.floor(r() * names.length)];
    const nPerRow = 256 * (1 + Math.floor(r() * 4));
    const nrows = 2;
    const src = makeRows(DISTRIBUTIONS[name], nrows, nPerRow, seed);
    const scale = r() < 0.5 ? 10 ** (Math.floor(r() * 12) - 6) : 10 ** (Math.floor(r() * 70) - 40);
    for (let i = 0; i < src.length; i++) src[i] = Math.fround(src[i] * scale);
    const im = makeImatrix(nPerRow, seed + 1);
    const mode = Math.floor(r() * 3);
    if (mode === 1) for (let i = 0; i < nPerRow; i++) if (r() < 0.3) im[i] = 0;
    if (mode === 2) for (let i = 0; i < nPerRow; i++) im[i] = Math.fround(im[i] * 1e-8);
    for (const type of SUPPORTED_QUANT_TYPES) {
      if (GRID_IQUANT_TYPES.has(type)) continue; // see GRID_IQUANT_TYPES
      // ggml asserts (aborts) without an imatrix for IQ2_XXS, IQ2_XS and IQ1_S
      for (const imatrix of quantizeRequiresImatrix(type) ? [im] : [null, im]) {
        const ref = ggmlQuantizeChunk(type, src, nrows, nPerRow, imatrix);
        const label = `${ggmlTypeName(type)} imatrix=${imatrix ? ["random", "with zeros", "tiny"][mode] : "none"} ${name} ×${scale} seed ${seed}`;
        const wasm = describeMismatch(quantize(type, src, nrows, nPerRow, imatrix), ref, GGML_TYPE_INFO[type].typeSize);
        if (wasm) failures.push(`${label}: ${wasm}`);
        const js = new Uint8Array(ref.length);
        getReferenceCodec(type).quantizeRows(src, 0, nrows, nPerRow, imatrix, js, 0);
        const jsMsg = describeMismatch(js, ref, GGML_TYPE_INFO[type].typeSize);
        if (jsMsg) failures.push(`${label} (reference codec): ${jsMsg}`);
      }
    }
  }
  expect(failures.slice(0, 10)).toEqual([]);
});
