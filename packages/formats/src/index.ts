// @moeq/formats' public API: typed errors, ggml types, dtype codecs, crash-safe files, GGUF and safetensors
// readers and writers, inspect, and the small shared utilities. The GGUF header encoder stays internal (use
// GGUFWriter, also for hand-built test files).

// Errors
export { MoeqError, InputError, CheckFailedError, EnvironmentError, MAX_MESSAGE_CHARS, oneLine } from "./errors.js";
export { GGUFError, SafetensorsError, type GGUFErrorCode, type SafetensorsErrorCode } from "./format-errors.js";

// ggml types and dtypes
export { GGMLType, GGML_TYPE_INFO, isGGMLType, ggmlTypeName, parseGGMLType, ggmlRowBytes, type GGMLTypeInfo } from "./ggml-types.js";
export {
  SAFETENSORS_DTYPE_SIZE,
  isSafetensorsDType,
  f32BitsToF16Bits,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32ToF16,
  f16ToF32,
  f32ToBf16,
  bf16ToF32,
  f32ToF8E4M3,
  f32ToF8E5M2,
  f8E4M3ToF32,
  f8E5M2ToF32,
  f32ToF16Row,
  f16ToF32Row,
  f32ToBf16Row,
  bf16ToF32Row,
  F16_TO_F32,
  roundToF16,
  decodeToFloat32,
  encodeFromFloat32,
  type SafetensorsDType,
} from "./dtypes.js";

// Crash-safe files
export { AtomicFileWriter, atomicTempPath, fsyncDir, noRoomError, writeFileAtomic, writeFileAtomicSync, type AtomicWriteOptions } from "./atomic-file.js";

// GGUF
export {
  GGUFValueType,
  isGGUFValueType,
  GGUF_MAGIC,
  GGUF_VERSION,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAX_STRING_LENGTH,
  GGUF_MAX_ARRAY_ELEMENTS,
  GGUF_MAX_ARRAY_DEPTH,
  GGML_MAX_NAME,
  GGML_MAX_DIMS,
  ggufPad,
  ggmlNDimsShape,
  type GGUFScalar,
  type GGUFValue,
  type GGUFKV,
  type GGUFTensorInfo,
} from "./gguf-types.js";
export { openGguf, type GGUFFile } from "./gguf-read.js";
export { GGUFWriter } from "./gguf-write.js";

// safetensors
export {
  openSafetensors,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_MAX_INDEX_BYTES,
  type SafetensorsTensor,
  type SafetensorsCheckpoint,
} from "./safetensors-read.js";
export {
  SafetensorsWriter,
  planSafetensorsLayout,
  type SafetensorsLayout,
  type SafetensorsWriterOptions,
  type SafetensorsWriteResult,
} from "./safetensors-write.js";

// inspect
export {
  inspectPath,
  type InspectOptions,
  type InspectReport,
  type InspectValue,
  type InspectMetadataEntry,
  type InspectTypeTotal,
  type InspectTensor,
} from "./inspect.js";

// Shared utilities
export { formatBytes } from "./byte-size.js";
export { seededRandom, seededUint32 } from "./seeded-random.js";
export { isProcessAlive } from "./process-alive.js";
