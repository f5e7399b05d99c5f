// Entry of the WASM module built by scripts/build-wasm.mjs: the f32 gemm, the integer block-dot kernel and ggml's
// softmax/swiglu math, over one imported shared memory (the weights, activations and outputs live there, so worker
// threads share them).
export { gemm, gemmStrided, gemmVP } from "./gemm";
export { qmatmul, qmatmulScratchBytes, qmatmulFusedMaxTokens, qmatmulInt8Rows } from "./qdot";
export { quantizeQ8_0, quantizeQ8_K, roundF16 } from "./quantize";
export { softmaxRowsGgml, swigluGgmlRow } from "./activations";
