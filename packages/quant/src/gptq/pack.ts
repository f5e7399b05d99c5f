/**
 * GPTQ v1 checkpoint packing (AutoGPTQ `QuantLinear.pack`, the layout vLLM / Transformers / GPTQModel read with
 * `checkpoint_format: "gptq"`), for one Linear W [out × in]:
 *   qweight int32 [in·bits/32, out]   codes packed along the INPUT dim: a run of 32 inputs is one little-endian
 *                                      bit stream of `bits` words (code k at bits [k·bits, (k+1)·bits)); this is
 *                                      the 10-1-10-1-10 word-spanning layout for 3 bits and plain nibbles for 4.
 *   qzeros  int32 [groups, out·bits/32] zero − 1 (the v1 off-by-one; kernels add 1 back), masked to `bits`,
 *                                      packed the same way along the OUTPUT dim.
 *   scales  fp16  [groups, out]
 *   g_idx   int32 [in]
 * A zero of 0 (asym only) is stored as maxq and read back by every v1 kernel as maxq + 1: `unpackGptqV1` does the
 * same, so what it decodes is what vLLM computes. `wrappedZeros` counts them.
 */
import { QuantShapeError } from "../errors.js";
import type { QuantizedLinear } from "./result.js";
import { groupCount } from "./result.js";
import { F16_TO_F32, f32ToF16 } from "@moeq/formats";

export const GPTQ_BITS = [2, 3, 4, 8] as const;

export interface GptqV1Tensors {
  /** [in·bits/32 × out] */
  readonly qweight: Int32Array;
  /** [groups × out·bits/32] */
  readonly qzeros: Int32Array;
  /** fp16 bits, [groups × out] */
  readonly scales: Uint16Array;
  /** [in] */
  readonly gIdx: Int32Array;
  /** Zeros of 0 stored as maxq (read back as maxq + 1). */
  readonly wrappedZeros: number;
}

/** Writes `values[i·stride]` for i < 32 (codes of `bits` bits) as `bits` little-endian words into out[o + w·outStride]. */
function packRun(values: (i: number) => number, bits: number, out: Int32Array, o: number, outStride: number): void {
  for (let w = 0; w < bits; w++) out[o + w * outStride] = 0;
  for (let i = 0; i < 32; i++) {
    const v = values(i);
    const bit = i * bits;
    const w = bit >>> 5;
    const sh = bit & 31;
    out[o + w * outStride] |= v << sh;
    if (sh + bits > 32) out[o + (w + 1) * outStride] |= v >>> (32 - sh);
  }
}

function unpackRun(src: Int32Array, o: number, stride: number, bits: number, i: number): number {
  const bit = i * bits;
  const w = bit >>> 5;
  const sh = bit & 31;
  const mask = (1 << bits) - 1;
  let v = src[o + w * stride] >>> sh;
  if (sh + bits > 32) v |= src[o + (w + 1) * stride] << (32 - sh);
  return v & mask;
}

export function checkGptqShape(rows: number, cols: number, bits: number, groupSize: number): string | null {
  if (!(GPTQ_BITS as readonly number[]).includes(bits)) return `bits ${bits} is not one of ${GPTQ_BITS.join(", ")}`;
  if (groupSize !== -1 && (!Number.isInteger(groupSize) || groupSize <= 0 || cols % groupSize !== 0)) {
    return `group size ${groupSize} does not divide the input width ${cols}`;
  }
  if (cols % 32 !== 0 || rows % 32 !== 0) return `shape [${rows}, ${cols}] is not a multiple of 32 (GPTQ packs 32 values per ${bits} words)`;
  return null;
}

export function packGptqV1(q: QuantizedLinear): GptqV1Tensors {
  const { rows, cols, bits, codes } = q;
  const problem = checkGptqShape(rows, cols, bits, q.groupSize);
  if (problem) throw new QuantShapeError("GPTQ_SHAPE", problem);
  const mq = 2 ** bits - 1;
  const nGroups = groupCount(cols, q.groupSize);
  const qweight = new Int32Array((cols / 32) * bits * rows);
  for (let run = 0; run < cols / 32; run++) {
    for (let r = 0; r < rows; r++) packRun((i) => codes[r * cols + run * 32 + i], bits, qweight, run * bits * rows + r, rows);
  }
  const zw = (rows / 32) * bits;
  const qzeros = new Int32Array(nGroups * zw);
  let wrappedZeros = 0;
  for (let g = 0; g < nGroups; g++) {
    for (let run = 0; run < rows / 32; run++) {
      packRun(
        (i) => {
          const z = q.zeros[g * rows + run * 32 + i];
          if (z === 0) wrappedZeros++;
          return (z - 1) & mq;
        },
        bits,
        qzeros,
        g * zw + run * bits,
        1,
      );
    }
  }
  const scales = new Uint16Array(nGroups * rows);
  for (let i = 0; i < scales.length; i++) scales[i] = f32ToF16(Math.fround(q.scales[i]));
  return { qweight, qzeros, scales, gIdx: Int32Array.from(q.gIdx), wrappedZeros };
}

/**
 * Decodes v1 tensors back to W [out × in] f32 the way the v1 kernels do: w = scale[g] · (q − (stored zero + 1)).
 */
export function unpackGptqV1(t: Pick<GptqV1Tensors, "qweight" | "qzeros" | "scales" | "gIdx">, rows: number, cols: number, bits: number): Float32Array {
  const nGroups = t.scales.length / rows;
  const zw = (rows / 32) * bits;
  const zero = new Float32Array(nGroups * rows);
  for (let g = 0; g < nGroups; g++) {
    for (let r = 0; r < rows; r++) zero[g * rows + r] = unpackRun(t.qzeros, g * zw + Math.floor(r / 32) * bits, 1, bits, r % 32) + 1;
  }
  const out = new Float32Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    const g = t.gIdx[c];
    if (!(g >= 0 && g < nGroups)) throw new QuantShapeError("GPTQ_G_IDX", `g_idx[${c}] = ${g} is outside the ${nGroups} groups`);
    const o = Math.floor(c / 32) * bits * rows;
    for (let r = 0; r < rows; r++) {
      const code = unpackRun(t.qweight, o + r, rows, bits, c % 32);
      out[r * cols + c] = F16_TO_F32[t.scales[g * rows + r]] * (code - zero[g * rows + r]);
    }
  }
  return out;
}
