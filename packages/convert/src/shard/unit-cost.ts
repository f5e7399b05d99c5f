/**
 * What one GGUF tensor costs to produce, in estimated nanoseconds of one core: the weight `--shard` deals tensors by
 * in `convert` and `quantize`. Output bytes alone misjudge a mixture (a Q6_K tensor writes 1.46× the bytes of a
 * Q4_K one of the same shape but takes 0.6× its time; an IQ2_XS one is 30× slower than Q4_K per byte), so two
 * shards of a Q4_K_M run finished seconds apart. Only the ratios matter: every process of an array computes the same
 * costs from this table, whatever machine it runs on.
 *
 * The numbers are single-thread measurements on the development machine, printed (as this table's source) by
 * `npx vitest run --config vitest.bench.config.ts packages/convert/bench/unit-cost.bench.ts` (this table: commit 36a800f,
 * load average 1.2–1.6; the grid i-quants' quantizers were per-block bridges into WebAssembly then).
 */
import { GGMLType, GGML_TYPE_INFO } from "@moeq/formats";

/** ns per element to quantize f32 rows into each type (F32/F16/BF16: to convert them), with an imatrix where one is required. */
export const QUANTIZE_NS_PER_ELEMENT: Readonly<Partial<Record<GGMLType, number>>> = {
  [GGMLType.F32]: 0.05,
  [GGMLType.F16]: 0.77,
  [GGMLType.BF16]: 0.45,
  [GGMLType.Q4_0]: 2.0,
  [GGMLType.Q4_1]: 1.5,
  [GGMLType.Q5_0]: 1.5,
  [GGMLType.Q5_1]: 1.5,
  [GGMLType.Q8_0]: 2.3,
  [GGMLType.Q2_K]: 24,
  [GGMLType.Q3_K]: 11,
  [GGMLType.Q4_K]: 27,
  [GGMLType.Q5_K]: 22,
  [GGMLType.Q6_K]: 29,
  [GGMLType.IQ4_NL]: 48,
  [GGMLType.IQ4_XS]: 43,
  [GGMLType.TQ1_0]: 2.8,
  [GGMLType.TQ2_0]: 2.1,
  [GGMLType.MXFP4]: 3.8,
  [GGMLType.NVFP4]: 4.8,
  [GGMLType.IQ3_XXS]: 528,
  [GGMLType.IQ3_S]: 469,
  [GGMLType.IQ2_XXS]: 601,
  [GGMLType.IQ2_XS]: 861,
  [GGMLType.IQ2_S]: 284,
  [GGMLType.IQ1_S]: 643,
  [GGMLType.IQ1_M]: 1030,
};

/** ns per element to read a tensor stored as each type and decode it to f32 (including the finite check). */
export const DECODE_NS_PER_ELEMENT: Readonly<Partial<Record<GGMLType, number>>> = {
  [GGMLType.F32]: 2.0,
  [GGMLType.F16]: 5.3,
  [GGMLType.BF16]: 3.8,
  [GGMLType.Q4_0]: 3.2,
  [GGMLType.Q4_1]: 2.8,
  [GGMLType.Q5_0]: 3.5,
  [GGMLType.Q5_1]: 3.4,
  [GGMLType.Q8_0]: 2.4,
  [GGMLType.Q2_K]: 4.1,
  [GGMLType.Q3_K]: 3.5,
  [GGMLType.Q4_K]: 3.0,
  [GGMLType.Q5_K]: 3.4,
  [GGMLType.Q6_K]: 3.4,
  [GGMLType.IQ4_NL]: 2.0,
  [GGMLType.IQ4_XS]: 1.9,
  [GGMLType.TQ1_0]: 2.5,
  [GGMLType.TQ2_0]: 1.9,
  [GGMLType.MXFP4]: 2.2,
  [GGMLType.NVFP4]: 2.0,
  [GGMLType.IQ3_XXS]: 2.0,
  [GGMLType.IQ3_S]: 2.0,
  [GGMLType.IQ2_XXS]: 2.0,
  [GGMLType.IQ2_XS]: 2.0,
  [GGMLType.IQ2_S]: 2.5,
  [GGMLType.IQ1_S]: 1.8,
  [GGMLType.IQ1_M]: 2.0,
};

/** ns per byte to read a tensor and write it unchanged (a tensor that keeps its type), or to write encoded bytes. */
export const COPY_NS_PER_BYTE = 0.19;

/** A type the table lacks (a new codec) costs as the slowest type it has, so it is never under-weighted. */
const UNKNOWN_QUANTIZE_NS = Math.max(...Object.values(QUANTIZE_NS_PER_ELEMENT).map((v) => v ?? 0), 1);
const UNKNOWN_DECODE_NS = Math.max(...Object.values(DECODE_NS_PER_ELEMENT).map((v) => v ?? 0), 1);

function bytesOf(type: GGMLType, elements: number): number {
  const { blockSize, typeSize } = GGML_TYPE_INFO[type];
  return (elements / blockSize) * typeSize;
}

/** One tensor of a GGUF pipeline: its element count, the type it is read as and the type it is written as. */
export interface TensorWork {
  readonly elements: number;
  readonly from: GGMLType;
  readonly to: GGMLType;
  /** Written unchanged (a tensor that keeps its type in `quantize`): a copy, no decode or encode. */
  readonly copy: boolean;
}

/** Estimated ns of one core to produce the tensor (see the module comment). */
export function tensorCost(w: TensorWork): number {
  const out = bytesOf(w.to, w.elements);
  if (w.copy) return (bytesOf(w.from, w.elements) + out) * COPY_NS_PER_BYTE;
  const decode = DECODE_NS_PER_ELEMENT[w.from] ?? UNKNOWN_DECODE_NS;
  const encode = QUANTIZE_NS_PER_ELEMENT[w.to] ?? UNKNOWN_QUANTIZE_NS;
  return w.elements * (decode + encode) + out * COPY_NS_PER_BYTE;
}
