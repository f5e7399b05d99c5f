import { InputError } from "./errors.js";

/** Stable codes for malformed or unsupported GGUF files. */
export type GGUFErrorCode =
  | "GGUF_BAD_MAGIC"
  | "GGUF_BAD_VERSION"
  | "GGUF_TRUNCATED"
  | "GGUF_ABSURD_COUNT"
  | "GGUF_STRING_TOO_LONG"
  | "GGUF_BAD_KEY"
  | "GGUF_DUPLICATE_KEY"
  | "GGUF_UNKNOWN_VALUE_TYPE"
  | "GGUF_NESTING_TOO_DEEP"
  | "GGUF_BAD_ALIGNMENT"
  | "GGUF_BAD_TENSOR_NAME"
  | "GGUF_DUPLICATE_TENSOR"
  | "GGUF_BAD_DIMS"
  | "GGUF_UNKNOWN_TYPE"
  | "GGUF_BAD_SHAPE"
  | "GGUF_MISALIGNED"
  | "GGUF_OFFSET_OUT_OF_FILE"
  | "GGUF_NO_TENSOR"
  | "GGUF_WRITE_ORDER"
  | "GGUF_BAD_VALUE";

/** A GGUF file (or a GGUF we were asked to write) is malformed: the user must fix the input. */
export class GGUFError extends InputError {
  declare readonly code: GGUFErrorCode;
  constructor(code: GGUFErrorCode, message: string, opts: { file?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, opts);
  }
}

/** Stable codes for malformed safetensors files and checkpoints. */
export type SafetensorsErrorCode =
  | "SAFETENSORS_TRUNCATED"
  | "SAFETENSORS_HEADER_TOO_LARGE"
  | "SAFETENSORS_BAD_JSON"
  | "SAFETENSORS_BAD_ENTRY"
  | "SAFETENSORS_UNKNOWN_DTYPE"
  | "SAFETENSORS_BAD_SHAPE"
  | "SAFETENSORS_BAD_OFFSETS"
  | "SAFETENSORS_BAD_METADATA"
  | "SAFETENSORS_BAD_INDEX"
  | "SAFETENSORS_INDEX_MISMATCH"
  | "SAFETENSORS_DUPLICATE_TENSOR"
  | "SAFETENSORS_NO_TENSOR"
  | "SAFETENSORS_NOT_FOUND"
  | "SAFETENSORS_WRITE_ORDER";

/** A safetensors file or checkpoint directory is malformed: the user must fix the input. */
export class SafetensorsError extends InputError {
  declare readonly code: SafetensorsErrorCode;
  constructor(code: SafetensorsErrorCode, message: string, opts: { file?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, opts);
  }
}
