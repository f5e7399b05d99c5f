/**
 * Round-to-nearest on the GPTQ grid: the baseline GPTQ is measured against, and the fallback for experts with
 * too few routed tokens. Same `findParams` / `quantizeCode` as GPTQ, groups j // groupSize, no error feedback.
 */
import type { GptqFormat } from "./quantizer.js";
import { findParams, maxq, quantizeCode, transposeToF64 } from "./quantizer.js";
import type { QuantizedLinear } from "./result.js";
import { groupCount } from "./result.js";

export function rtnQuantize(W: Float32Array, rows: number, cols: number, format: GptqFormat): QuantizedLinear {
  const WT = transposeToF64(W, rows, cols);
  const g = format.groupSize === -1 ? cols : format.groupSize;
  const nGroups = groupCount(cols, format.groupSize);
  const mq = maxq(format.bits);
  const codes = new Uint8Array(rows * cols);
  const scales = new Float64Array(nGroups * rows);
  const zeros = new Int32Array(nGroups * rows);
  const gIdx = new Int32Array(cols);
  for (let k = 0; k < nGroups; k++) {
    const c0 = k * g;
    const c1 = Math.min(c0 + g, cols);
    const p = findParams(WT, rows, c0, c1, format);
    scales.set(p.scale, k * rows);
    zeros.set(p.zero, k * rows);
    for (let c = c0; c < c1; c++) {
      gIdx[c] = k;
      for (let r = 0; r < rows; r++) codes[r * cols + c] = quantizeCode(WT[c * rows + r], p.scale[r], p.zero[r], mq);
    }
  }
  return { rows, cols, bits: format.bits, groupSize: format.groupSize, sym: format.sym, codes, scales, zeros, gIdx };
}
