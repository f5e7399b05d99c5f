export * from "./errors.js";
export * from "./ggml-types.js";
export * from "./dtypes.js";
