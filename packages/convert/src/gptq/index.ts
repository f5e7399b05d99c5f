export * from "./gptq-pipeline.js";
export * from "./layer-hessians.js";
export * from "./linears.js";
export * from "./quantize-config.js";
