export * from "./errors.js";
export type { GgmlCodec } from "./ggml/codec.js";
export * from "./ggml/registry.js";
export * from "./fp8/fp8.js";
export * from "./fp8/fp8-activations.js";
export * from "./awq/awq.js";
export * from "./awq/gemm-layout.js";
export * from "./gptq/index.js";
