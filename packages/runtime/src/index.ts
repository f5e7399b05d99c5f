// @moeq/runtime's public API: load a Llama 4 model (HF dir or GGUF), tokenize, run, generate, tap activations;
// plus the lower-level pieces the README names. Kernels, kv-cache internals and name tables stay internal
// except the few the converter shares.

// The model
export { loadModel, type Llama4Model, type LoadModelOptions, type GenerateOptions } from "./model.js";
export type { ActivationEvent, ActivationTap } from "./llama4/taps.js";
export { sampleToken, argmax, logSoftmax, type SampleOptions } from "./sampling.js";

// Lower-level pieces
export { Llama4TextModel, type ForwardOptions, type TextModelOptions } from "./llama4/text-model.js";
export { llama4ConfigFromHf, llama4ConfigFromGguf, ropeInvFreq, type Llama4TextConfig } from "./llama4/config.js";
export { WeightStore, type TensorSource, type WeightStoreOptions } from "./store/weight-store.js";
export { openSafetensorsTensors, type SafetensorsTensors } from "./store/safetensors-source.js";
export { openGgufFile } from "./store/gguf-source.js";
export { decodeRow, makeWeightMatrix, type WeightMatrix } from "./ops/weight-matrix.js";
export { matmul, matmulKernel } from "./ops/matmul.js";
export { startKernelThreads } from "./ops/wasm-host.js";
export type { NumericsMode } from "./llama4/numerics.js";
export { Llama4Tokenizer, type ChatMessage, type ChatContentPart } from "./tokenizer/llama4-tokenizer.js";
export { decodeImage, preprocessImage, expandImageTokens, type RgbImage, type ProcessedImage } from "./vision/image-processor.js";
export { VisionEncoder } from "./vision/vision-encoder.js";

// HF ↔ GGUF tensor names (shared with @moeq/convert)
export { mapLlama4HfName, stripLanguageModelPrefix } from "./llama4/names.js";
export { llama4VisionGgufName } from "./llama4/vision-names.js";
export { expertGgufName, parseUnfusedExpertName, unfusedExpertName, type ExpertProj, type UnfusedExpertName } from "./llama4/expert-names.js";
