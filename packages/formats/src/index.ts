export * from "./errors.js";
export * from "./ggml-types.js";
export * from "./dtypes.js";
export * from "./format-errors.js";
export * from "./atomic-file.js";
export * from "./gguf-types.js";
export * from "./gguf-read.js";
export * from "./gguf-write.js";
