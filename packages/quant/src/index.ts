export * from "./errors.js";
export type { GgmlCodec } from "./ggml/codec.js";
export * from "./ggml/registry.js";
