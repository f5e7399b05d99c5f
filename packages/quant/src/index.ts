export * from "./errors.js";
export type { GgmlCodec } from "./ggml/codec.js";
export * from "./ggml/registry.js";
export * from "./gptq/index.js";
