/**
 * What one GGUF tensor costs to produce, in estimated nanoseconds of one core: the weight `--shard` deals tensors by
 * in `convert` and `quantize`. Output bytes alone misjudge a mixture (a Q6_K tensor writes 1.46× the bytes of a
 * Q4_K one of the same shape but takes 0.6× its time; an IQ2_XS one takes 15× Q4_K's time per byte written), so two
 * shards of a Q4_K_M run finished seconds apart. Only the ratios matter: every process of an array computes the same
 * costs from this table, whatever machine it runs on.
 *
 * The numbers are single-thread measurements on the development machine, printed (as this table's source) by
 * `npx vitest run --config vitest.bench.config.ts packages/convert/bench/unit-cost.bench.ts` (this table: commit 1191162,
 * load average 2.2, with the grid i-quants' whole-row WebAssembly quantizers).
 */
import { GGMLType, GGML_TYPE_INFO } from "@moeq/formats";

/** ns per element to quantize f32 rows into each type (F32/F16/BF16: to convert them), with an imatrix where one is required. */
export const QUANTIZE_NS_PER_ELEMENT: Readonly<Partial<Record<GGMLType, number>>> = {
  [GGMLType.F32]: 0.05,
  [GGMLType.F16]: 0.82,
  [GGMLType.BF16]: 0.46,
  [GGMLType.Q4_0]: 1.5,
  [GGMLType.Q4_1]: 1.4,
  [GGMLType.Q5_0]: 1.6,
  [GGMLType.Q5_1]: 1.4,
  [GGMLType.Q8_0]: 2.2,
  [GGMLType.Q2_K]: 24,
  [GGMLType.Q3_K]: 8.8,
  [GGMLType.Q4_K]: 28,
  [GGMLType.Q5_K]: 22,
  [GGMLType.Q6_K]: 17,
  [GGMLType.IQ4_NL]: 45,
  [GGMLType.IQ4_XS]: 48,
  [GGMLType.TQ1_0]: 2.2,
  [GGMLType.TQ2_0]: 2.1,
  [GGMLType.MXFP4]: 4.0,
  [GGMLType.NVFP4]: 4.4,
  [GGMLType.IQ3_XXS]: 227,
  [GGMLType.IQ3_S]: 149,
  [GGMLType.IQ2_XXS]: 154,
  [GGMLType.IQ2_XS]: 225,
  [GGMLType.IQ2_S]: 105,
  [GGMLType.IQ1_S]: 101,
  [GGMLType.IQ1_M]: 129,
};

/** ns per element to read a tensor stored as each type and decode it to f32 (including the finite check). */
export const DECODE_NS_PER_ELEMENT: Readonly<Partial<Record<GGMLType, number>>> = {
  [GGMLType.F32]: 2.0,
  [GGMLType.F16]: 2.7,
  [GGMLType.BF16]: 2.2,
  [GGMLType.Q4_0]: 2.0,
  [GGMLType.Q4_1]: 2.0,
  [GGMLType.Q5_0]: 2.1,
  [GGMLType.Q5_1]: 2.1,
  [GGMLType.Q8_0]: 2.1,
  [GGMLType.Q2_K]: 2.4,
  [GGMLType.Q3_K]: 2.1,
  [GGMLType.Q4_K]: 2.0,
  [GGMLType.Q5_K]: 2.0,
  [GGMLType.Q6_K]: 1.9,
  [GGMLType.IQ4_NL]: 1.9,
  [GGMLType.IQ4_XS]: 1.9,
  [GGMLType.TQ1_0]: 1.9,
  [GGMLType.TQ2_0]: 1.9,
  [GGMLType.MXFP4]: 1.9,
  [GGMLType.NVFP4]: 2.0,
  [GGMLType.IQ3_XXS]: 2.0,
  [GGMLType.IQ3_S]: 2.0,
  [GGMLType.IQ2_XXS]: 2.0,
  [GGMLType.IQ2_XS]: 2.0,
  [GGMLType.IQ2_S]: 2.0,
  [GGMLType.IQ1_S]: 1.8,
  [GGMLType.IQ1_M]: 1.9,
};

/** ns per byte to read a tensor and write it unchanged (a tensor that keeps its type), or to write encoded bytes. */
export const COPY_NS_PER_BYTE = 0.11;

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
