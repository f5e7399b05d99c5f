import { InputError } from "@moeq/formats";

/** The requested ggml type has no codec in @moeq/quant (yet). Names the type. */
export class UnsupportedQuantTypeError extends InputError {}

/** Rows, row length, imatrix length or buffer sizes do not fit the type's block layout. */
export class QuantShapeError extends InputError {}

/** GPTQ's Hessian stayed non-positive-definite at every damping level (too little or degenerate calibration data). */
export class GptqHessianError extends InputError {}
