import { it, expect } from "vitest";
import { GGMLType, GGML_TYPE_INFO, ggmlTypeName } from "@moeq/formats";
import { SUPPORTED_QUANT_TYPES, quantize } from "./index.js";
import { ggmlQuantizeChunk } from "../../../test-support/ggml-quants.js";
import { DISTRIBUTIONS, describeMismatch, makeImatrix, makeRows, rng } from "./test-utils/rows.js";
it("stress", () => {
  const names = Object.keys(DISTRIBUTIONS);
  const fails: string[] = [];
  for (let seed = 1000; seed < 1000 + Number(process.env.N ?? 300); seed++) {
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
      for (const imatrix of [null, im]) {
        const a = quantize(type, src, nrows, nPerRow, imatrix);
        const b = ggmlQuantizeChunk(type, src, nrows, nPerRow, imatrix);
        const m = describeMismatch(a, b, GGML_TYPE_INFO[type].typeSize);
        if (m) fails.push(`${ggmlTypeName(type)} im=${imatrix ? mode : "-"} ${name} x${scale} seed ${seed}: ${m}`);
      }
    }
  }
  expect(fails.slice(0, 20)).toEqual([]);
});
