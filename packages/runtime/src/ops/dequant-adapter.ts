/**
 * Row decoding for every ggml type: float types here, block-quantized types through @moeq/quant's `dequantize`
 * (== ggml's to_float). Looked up at call time so the runtime builds while quant grows its codecs.
 */
import { GGMLType, GGML_TYPE_INFO, InputError } from "@moeq/formats";
import * as quant from "@moeq/quant";
import { bf16RowToF32, f16RowToF32 } from "./half.js";

type DequantizeFn = (type: GGMLType, src: Uint8Array, n: number, srcOffset?: number, dst?: Float32Array, dstOffset?: number) => Float32Array;

function quantDequantize(): DequantizeFn | undefined {
  const fn = (quant as Record<string, unknown>)["dequantize"];
  return typeof fn === "function" ? (fn as DequantizeFn) : undefined;
}

/** Decodes `n` elements of `type` starting at byte `srcOffset` into `dst[0..n)`. */
export function dequantizeRow(type: GGMLType, src: Uint8Array, srcOffset: number, n: number, dst: Float32Array): void {
  switch (type) {
    case GGMLType.F32: {
      const view = new DataView(src.buffer, src.byteOffset + srcOffset, n * 4);
      for (let i = 0; i < n; i++) dst[i] = view.getFloat32(4 * i, true);
      return;
    }
    case GGMLType.F16:
      f16RowToF32(src, srcOffset, n, dst);
      return;
    case GGMLType.BF16:
      bf16RowToF32(src, srcOffset, n, dst);
      return;
    default: {
      const fn = quantDequantize();
      if (!fn) {
        throw new InputError("UNSUPPORTED_TYPE", `cannot decode ${GGML_TYPE_INFO[type]?.name ?? type} weights: @moeq/quant has no dequantize`);
      }
      fn(type, src, n, srcOffset, dst, 0);
    }
  }
}
