// Entry of the WASM module built by scripts/build-wasm.mjs: the f32 gemm and the integer block-dot kernel, over
// one imported shared memory (the weights, activations and outputs live there, so worker threads share them).
export { gemm } from "./gemm";
export { qmatmul, qmatmulScratchBytes, widenI8 } from "./qdot";
