export * from "./model.js";
export * from "./atomic-write.js";
export * from "./metrics/stats.js";
export * from "./metrics/histogram.js";
export * from "./metrics/log-softmax.js";
export * from "./metrics/kld-file.js";
export * from "./metrics/perplexity.js";
export * from "./metrics/kld.js";
