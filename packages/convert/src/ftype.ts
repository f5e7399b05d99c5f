/**
 * llama.cpp file types (`enum llama_ftype` in include/llama.h; the value stored in general.file_type)
 * and their default tensor type (llama-quant.cpp llama_ftype_get_default_type).
 * Note: llama_ftype numbers are not ggml_type numbers.
 */
import { GGMLType, InputError } from "@moeq/formats";

export enum LlamaFType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q4_1 = 3,
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9,
  MOSTLY_Q2_K = 10,
  MOSTLY_Q3_K_S = 11,
  MOSTLY_Q3_K_M = 12,
  MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q5_K_S = 16,
  MOSTLY_Q5_K_M = 17,
  MOSTLY_Q6_K = 18,
  MOSTLY_IQ2_XXS = 19,
  MOSTLY_IQ2_XS = 20,
  MOSTLY_Q2_K_S = 21,
  MOSTLY_IQ3_XS = 22,
  MOSTLY_IQ3_XXS = 23,
  MOSTLY_IQ1_S = 24,
  MOSTLY_IQ4_NL = 25,
  MOSTLY_IQ3_S = 26,
  MOSTLY_IQ3_M = 27,
  MOSTLY_IQ2_S = 28,
  MOSTLY_IQ2_M = 29,
  MOSTLY_IQ4_XS = 30,
  MOSTLY_IQ1_M = 31,
  MOSTLY_BF16 = 32,
  MOSTLY_TQ1_0 = 36,
  MOSTLY_TQ2_0 = 37,
  MOSTLY_MXFP4_MOE = 38,
}

/** The names llama-quantize accepts (tools/quantize/quantize.cpp QUANT_OPTIONS) for the file types moeq supports. */
export const FTYPE_BY_NAME: Readonly<Record<string, LlamaFType>> = {
  F32: LlamaFType.ALL_F32,
  F16: LlamaFType.MOSTLY_F16,
  BF16: LlamaFType.MOSTLY_BF16,
  Q8_0: LlamaFType.MOSTLY_Q8_0,
  Q4_0: LlamaFType.MOSTLY_Q4_0,
  Q4_1: LlamaFType.MOSTLY_Q4_1,
  Q5_0: LlamaFType.MOSTLY_Q5_0,
  Q5_1: LlamaFType.MOSTLY_Q5_1,
  Q2_K: LlamaFType.MOSTLY_Q2_K,
  Q3_K_S: LlamaFType.MOSTLY_Q3_K_S,
  Q3_K_M: LlamaFType.MOSTLY_Q3_K_M,
  Q3_K_L: LlamaFType.MOSTLY_Q3_K_L,
  Q4_K_S: LlamaFType.MOSTLY_Q4_K_S,
  Q4_K_M: LlamaFType.MOSTLY_Q4_K_M,
  Q5_K_S: LlamaFType.MOSTLY_Q5_K_S,
  Q5_K_M: LlamaFType.MOSTLY_Q5_K_M,
  Q6_K: LlamaFType.MOSTLY_Q6_K,
  Q2_K_S: LlamaFType.MOSTLY_Q2_K_S,
  IQ1_S: LlamaFType.MOSTLY_IQ1_S,
  IQ1_M: LlamaFType.MOSTLY_IQ1_M,
  IQ2_XXS: LlamaFType.MOSTLY_IQ2_XXS,
  IQ2_XS: LlamaFType.MOSTLY_IQ2_XS,
  IQ2_S: LlamaFType.MOSTLY_IQ2_S,
  IQ2_M: LlamaFType.MOSTLY_IQ2_M,
  IQ3_XXS: LlamaFType.MOSTLY_IQ3_XXS,
  IQ3_XS: LlamaFType.MOSTLY_IQ3_XS,
  IQ3_S: LlamaFType.MOSTLY_IQ3_S,
  IQ3_M: LlamaFType.MOSTLY_IQ3_M,
  IQ4_NL: LlamaFType.MOSTLY_IQ4_NL,
  IQ4_XS: LlamaFType.MOSTLY_IQ4_XS,
  TQ1_0: LlamaFType.MOSTLY_TQ1_0,
  TQ2_0: LlamaFType.MOSTLY_TQ2_0,
  MXFP4_MOE: LlamaFType.MOSTLY_MXFP4_MOE,
};

export const FTYPE_NAMES = Object.keys(FTYPE_BY_NAME);

export function ftypeName(f: LlamaFType): string {
  for (const [k, v] of Object.entries(FTYPE_BY_NAME)) if (v === f) return k;
  return String(f);
}

/** Parses "q4_k_m", "Q4_K_M", "f16" …; also accepts the numeric id as llama-quantize does. */
export function parseFType(s: string): LlamaFType {
  const up = s.toUpperCase();
  if (up in FTYPE_BY_NAME) return FTYPE_BY_NAME[up];
  if (/^\d+$/.test(s) && Object.values(FTYPE_BY_NAME).includes(Number(s))) return Number(s) as LlamaFType;
  throw new InputError("BAD_FTYPE", `unknown file type "${s}"; one of ${FTYPE_NAMES.join(", ")}`);
}

export function ftypeDefaultType(f: LlamaFType): GGMLType {
  // prettier-ignore
  switch (f) {
    case LlamaFType.ALL_F32: return GGMLType.F32;
    case LlamaFType.MOSTLY_F16: return GGMLType.F16;
    case LlamaFType.MOSTLY_BF16: return GGMLType.BF16;
    case LlamaFType.MOSTLY_Q8_0: return GGMLType.Q8_0;
    case LlamaFType.MOSTLY_Q4_0: return GGMLType.Q4_0;
    case LlamaFType.MOSTLY_Q4_1: return GGMLType.Q4_1;
    case LlamaFType.MOSTLY_Q5_0: return GGMLType.Q5_0;
    case LlamaFType.MOSTLY_Q5_1: return GGMLType.Q5_1;
    case LlamaFType.MOSTLY_MXFP4_MOE: return GGMLType.MXFP4;
    case LlamaFType.MOSTLY_Q2_K_S:
    case LlamaFType.MOSTLY_Q2_K: return GGMLType.Q2_K;
    case LlamaFType.MOSTLY_IQ3_XS: return GGMLType.IQ3_S;
    case LlamaFType.MOSTLY_Q3_K_S:
    case LlamaFType.MOSTLY_Q3_K_M:
    case LlamaFType.MOSTLY_Q3_K_L: return GGMLType.Q3_K;
    case LlamaFType.MOSTLY_Q4_K_S:
    case LlamaFType.MOSTLY_Q4_K_M: return GGMLType.Q4_K;
    case LlamaFType.MOSTLY_Q5_K_S:
    case LlamaFType.MOSTLY_Q5_K_M: return GGMLType.Q5_K;
    case LlamaFType.MOSTLY_Q6_K: return GGMLType.Q6_K;
    case LlamaFType.MOSTLY_TQ1_0: return GGMLType.TQ1_0;
    case LlamaFType.MOSTLY_TQ2_0: return GGMLType.TQ2_0;
    case LlamaFType.MOSTLY_IQ2_XXS: return GGMLType.IQ2_XXS;
    case LlamaFType.MOSTLY_IQ2_XS:
    case LlamaFType.MOSTLY_IQ2_S: return GGMLType.IQ2_XS;
    case LlamaFType.MOSTLY_IQ2_M: return GGMLType.IQ2_S;
    case LlamaFType.MOSTLY_IQ3_XXS: return GGMLType.IQ3_XXS;
    case LlamaFType.MOSTLY_IQ1_S: return GGMLType.IQ1_S;
    case LlamaFType.MOSTLY_IQ1_M: return GGMLType.IQ1_M;
    case LlamaFType.MOSTLY_IQ4_NL: return GGMLType.IQ4_NL;
    case LlamaFType.MOSTLY_IQ4_XS: return GGMLType.IQ4_XS;
    case LlamaFType.MOSTLY_IQ3_S:
    case LlamaFType.MOSTLY_IQ3_M: return GGMLType.IQ3_S;
  }
}

/** ggml_is_quantized: block types (not F32/F16/BF16/ints). */
export function isQuantizedType(t: GGMLType): boolean {
  return !(
    t === GGMLType.F32 ||
    t === GGMLType.F16 ||
    t === GGMLType.BF16 ||
    t === GGMLType.F64 ||
    t === GGMLType.I8 ||
    t === GGMLType.I16 ||
    t === GGMLType.I32 ||
    t === GGMLType.I64
  );
}
