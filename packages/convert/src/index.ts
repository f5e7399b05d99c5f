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
export { readImatrix, readImatrixRaw, type ImatrixData, type RawImatrix } from "./imatrix.js";

// Calibration: importance matrices (llama-imatrix's statistics and file format)
export { imatrixPartialPath, runImatrix, type ImatrixRunOptions, type ImatrixRunSummary } from "./imatrix-run.js";
export { ImatrixStats, type TensorStats } from "./imatrix-stats.js";
export {
  imatrixExpertReport,
  imatrixFileExpertReport,
  formatImatrixExpertReport,
  UNDER_TRAINED_RULE,
  type ImatrixExpertReport,
  type ExpertLayerTokens,
  type UnderTrainedExpert,
} from "./imatrix-report.js";
export type { ExpertErrorRow } from "./expert-errors.js";
export { ggufNumber, ggufString } from "./gguf-kv.js";

// Safetensors for vLLM / Transformers
export { convertToFp8, type Fp8ConvertOptions, type Fp8Summary } from "./fp8/fp8-convert.js";
export { convertToAwq, type AwqConvertOptions, type AwqGroupChoice, type AwqSummary } from "./awq/awq-convert.js";
export { gptqConvert, type GptqConvertOptions, type GptqLinearReport, type GptqReport, type GptqSummary } from "./gptq/gptq-pipeline.js";

// Measured mixtures to a size budget (moeq recipe)
export * from "./recipe/index.js";
export { parseShardSpec, shardLabel, assignUnitsToShards, unitsOfShard, WHOLE_JOB, SHARD_ENV, type ShardSpec } from "./shard/shard-spec.js";
export {
  ShardFileWriter,
  readShardManifest,
  checkShardSet,
  copyUnit,
  shardFilePath,
  SHARD_FILE_VERSION,
  type ShardFile,
  type ShardManifest,
  type ShardUnit,
} from "./shard/shard-file.js";
export { mergeShards, type MergeSummary } from "./shard/merge.js";
export { FOLDER_SHARD_KIND, FolderShardWriter, folderUnitCount, mergeFolderShards, type DeclaredTensor, type FolderLayout } from "./shard/folder-shard.js";
export { IMATRIX_SHARD_KIND, ImatrixShardWriter, imatrixChunkInShard, mergeImatrixShards } from "./shard/imatrix-shard.js";
export { writeGgufUnits, checkShardable, type GgufShardRun, type GgufUnitsParams, type GgufUnitsResult } from "./shard/gguf-shard.js";
export type { GgufRun } from "./shard/gguf-shard.js";
export { ResumeWorkDir, workDirPath, type ResumeNote, type PlannedRange, type WorkDirPlan } from "./resume/work-dir.js";
export { ResumableOutput, inputStamp, type ResumableOutputPlan, type OutputPiece, type FixedBytes } from "./resume/resumable-output.js";
