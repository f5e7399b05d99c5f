/**
 * ggml tensor types: the single source of truth for type ids, names and block layouts.
 * Ids and (block size, bytes per block) match ggml.h / ggml.c `type_traits` of the llama.cpp that
 * node-llama-cpp 3.21.1 ships (checked against ggml_blck_size / ggml_type_size in a test).
 */
export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

export interface GGMLTypeInfo {
  /** ggml's lower-case name, as ggml_type_name prints it. */
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block; written as a sum of its fields where that documents the layout. */
  readonly typeSize: number;
}

const QK_K = 256;

export const GGML_TYPE_INFO: Readonly<Record<GGMLType, GGMLTypeInfo>> = {
  [GGMLType.F32]: { name: "f32", blockSize: 1, typeSize: 4 },
  [GGMLType.F16]: { name: "f16", blockSize: 1, typeSize: 2 },
  [GGMLType.Q4_0]: { name: "q4_0", blockSize: 32, typeSize: 2 + 16 },
  [GGMLType.Q4_1]: { name: "q4_1", blockSize: 32, typeSize: 2 + 2 + 16 },
  [GGMLType.Q5_0]: { name: "q5_0", blockSize: 32, typeSize: 2 + 4 + 16 },
  [GGMLType.Q5_1]: { name: "q5_1", blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  [GGMLType.Q8_0]: { name: "q8_0", blockSize: 32, typeSize: 2 + 32 },
  [GGMLType.Q8_1]: { name: "q8_1", blockSize: 32, typeSize: 4 + 32 },
  // Q2_K: scales[16] qs[64] d dmin
  [GGMLType.Q2_K]: { name: "q2_K", blockSize: QK_K, typeSize: QK_K / 16 + QK_K / 4 + 2 + 2 },
  // Q3_K: hmask[32] qs[64] scales[12] d
  [GGMLType.Q3_K]: { name: "q3_K", blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 4 + 12 + 2 },
  // Q4_K: d dmin scales[12] qs[128]
  [GGMLType.Q4_K]: { name: "q4_K", blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 2 },
  // Q5_K: d dmin scales[12] qh[32] qs[128]
  [GGMLType.Q5_K]: { name: "q5_K", blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 8 + QK_K / 2 },
  // Q6_K: ql[128] qh[64] scales[16] d
  [GGMLType.Q6_K]: { name: "q6_K", blockSize: QK_K, typeSize: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2 },
  // Q8_K: d(f32) qs[256] bsums[16]
  [GGMLType.Q8_K]: { name: "q8_K", blockSize: QK_K, typeSize: 4 + QK_K + (QK_K / 16) * 2 },
  [GGMLType.IQ2_XXS]: { name: "iq2_xxs", blockSize: QK_K, typeSize: 66 },
  [GGMLType.IQ2_XS]: { name: "iq2_xs", blockSize: QK_K, typeSize: 74 },
  [GGMLType.IQ3_XXS]: { name: "iq3_xxs", blockSize: QK_K, typeSize: 98 },
  [GGMLType.IQ1_S]: { name: "iq1_s", blockSize: QK_K, typeSize: 50 },
  [GGMLType.IQ4_NL]: { name: "iq4_nl", blockSize: 32, typeSize: 18 },
  [GGMLType.IQ3_S]: { name: "iq3_s", blockSize: QK_K, typeSize: 110 },
  [GGMLType.IQ2_S]: { name: "iq2_s", blockSize: QK_K, typeSize: 82 },
  [GGMLType.IQ4_XS]: { name: "iq4_xs", blockSize: QK_K, typeSize: 136 },
  [GGMLType.I8]: { name: "i8", blockSize: 1, typeSize: 1 },
  [GGMLType.I16]: { name: "i16", blockSize: 1, typeSize: 2 },
  [GGMLType.I32]: { name: "i32", blockSize: 1, typeSize: 4 },
  [GGMLType.I64]: { name: "i64", blockSize: 1, typeSize: 8 },
  [GGMLType.F64]: { name: "f64", blockSize: 1, typeSize: 8 },
  [GGMLType.IQ1_M]: { name: "iq1_m", blockSize: QK_K, typeSize: 56 },
  [GGMLType.BF16]: { name: "bf16", blockSize: 1, typeSize: 2 },
  [GGMLType.TQ1_0]: { name: "tq1_0", blockSize: QK_K, typeSize: 54 },
  [GGMLType.TQ2_0]: { name: "tq2_0", blockSize: QK_K, typeSize: 66 },
  [GGMLType.MXFP4]: { name: "mxfp4", blockSize: 32, typeSize: 17 },
  [GGMLType.NVFP4]: { name: "nvfp4", blockSize: 64, typeSize: 36 },
  [GGMLType.Q1_0]: { name: "q1_0", blockSize: 128, typeSize: 18 },
  [GGMLType.Q2_0]: { name: "q2_0", blockSize: 64, typeSize: 18 },
};

export function isGGMLType(v: number): v is GGMLType {
  return Object.prototype.hasOwnProperty.call(GGML_TYPE_INFO, v);
}

/** Upper-case name as llama.cpp's tools print it (Q4_K, F16, …). */
export function ggmlTypeName(type: GGMLType): string {
  return GGMLType[type];
}

/** Parses "q4_k", "Q4_K", "f16" … into a GGMLType, or undefined. */
export function parseGGMLType(name: string): GGMLType | undefined {
  const v = (GGMLType as unknown as Record<string, number>)[name.toUpperCase()];
  return typeof v === "number" ? (v as GGMLType) : undefined;
}

/** Bytes taken by a row of `n` elements; throws when n is not a multiple of the block size. */
export function ggmlRowBytes(type: GGMLType, n: number): number {
  const info = GGML_TYPE_INFO[type];
  if (n % info.blockSize !== 0) {
    throw new RangeError(`row of ${n} elements is not a multiple of ${info.name}'s block size ${info.blockSize}`);
  }
  return (n / info.blockSize) * info.typeSize;
}
