// @moeq/convert's public API: the two pipelines (HF → GGUF, GGUF → GGUF), llama.cpp's file types, the
// options and summaries they take and give. Architecture tables, units, the worker pool and the type-choice
// port stay internal.

// Pipelines
export { convertHfToGguf, mmprojPath, type ConvertOptions, type ConvertSummary } from "./convert-hf.js";
export { quantizeGguf, type QuantizeGgufOptions, type QuantizeSummary } from "./quantize-gguf.js";
export type { QuantizeTypeOptions } from "./tensor-type-choice.js";
export type { WriteSummary } from "./write-units.js";

// llama.cpp file types
export { LlamaFType, FTYPE_BY_NAME, FTYPE_NAMES, ftypeName, parseFType, isQuantizedType } from "./ftype.js";

// Inputs and outputs next to the model
export { readImatrix, type ImatrixData } from "./imatrix.js";
export type { ExpertErrorRow } from "./expert-errors.js";
export { ggufNumber, ggufString } from "./gguf-kv.js";
