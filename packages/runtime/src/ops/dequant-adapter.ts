/**
 * Row decoding for every ggml type: float types here (hot, no per-call checks), block-quantized types through
 * @moeq/quant's codecs (== ggml's to_float), resolved once per type.
 */
import { GGMLType, GGML_TYPE_INFO } from "@moeq/formats";
import { getGgmlCodec } from "@moeq/quant";
import type { GgmlCodec } from "@moeq/quant";
import { bf16RowToF32, f16RowToF32 } from "./half.js";

const codecs = new Map<GGMLType, GgmlCodec>();

/** Decodes `n` elements of `type` starting at byte `srcOffset` into `dst[0..n)`. */
export function dequantizeRow(type: GGMLType, src: Uint8Array, srcOffset: number, n: number, dst: Float32Array): void {
  switch (type) {
    case GGMLType.F32: {
      if ((src.byteOffset + srcOffset) % 4 === 0) {
        dst.set(new Float32Array(src.buffer, src.byteOffset + srcOffset, n));
      } else {
        const view = new DataView(src.buffer, src.byteOffset + srcOffset, n * 4);
        for (let i = 0; i < n; i++) dst[i] = view.getFloat32(4 * i, true);
      }
      return;
    }
    case GGMLType.F16:
      f16RowToF32(src, srcOffset, n, dst);
      return;
    case GGMLType.BF16:
      bf16RowToF32(src, srcOffset, n, dst);
      return;
    default: {
      let codec = codecs.get(type);
      if (!codec) {
        codec = getGgmlCodec(type);
        codecs.set(type, codec);
      }
      codec.dequantizeBlocks(src, srcOffset, n / GGML_TYPE_INFO[type].blockSize, dst, 0);
    }
  }
}
