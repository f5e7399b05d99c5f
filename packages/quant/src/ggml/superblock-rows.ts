import { F16_TO_F32 } from "@moeq/formats";
import type { GgmlCodec } from "./codec.js";
import { readU16 } from "./codec.js";
import { QK_K } from "./kquant-layout.js";

/**
 * The walk every K-quant quantizeRows makes (ggml_quantize_chunk → quantize_row_*): the QK_K-element super-blocks
 * of `nrows` rows of `nPerRow` floats, in order. `quantizeBlock` gets the block's source offset, its offset inside
 * the row (where its imatrix slice starts) and its destination offset (blocks are `blockBytes` apart).
 */
export function forEachSuperBlock(
  srcOffset: number,
  nrows: number,
  nPerRow: number,
  dstOffset: number,
  blockBytes: number,
  quantizeBlock: (xo: number, rowOffset: number, yo: number) => void,
): void {
  const nbRow = nPerRow / QK_K;
  for (let r = 0; r < nrows; r++) {
    for (let i = 0; i < nbRow; i++) {
      quantizeBlock(srcOffset + r * nPerRow + i * QK_K, i * QK_K, dstOffset + (r * nbRow + i) * blockBytes);
    }
  }
}

/** One super-block's quantizer: block at x[xo…], its imatrix slice at qw[qwo…] (or null), bytes to y[yo…]. */
export type SuperBlockQuantizer = (x: Float32Array, xo: number, qw: Float32Array | null, qwo: number, y: Uint8Array, yo: number) => void;

/** A codec's quantizeRows that runs `quantizeBlock` over every super-block, in ggml's row order. */
export function quantizeSuperBlocks(blockBytes: number, quantizeBlock: SuperBlockQuantizer): GgmlCodec["quantizeRows"] {
  return (src, srcOffset, nrows, nPerRow, imatrix, dst, dstOffset) =>
    forEachSuperBlock(srcOffset, nrows, nPerRow, dstOffset, blockBytes, (xo, io, yo) => quantizeBlock(src, xo, imatrix, io, dst, yo));
}

/** One super-block's dequantizer: the block at src[so…] with its fp16 scale already read as `d`, QK_K floats to y[yo…]. */
export type SuperBlockDequantizer = (src: Uint8Array, so: number, d: number, y: Float32Array, yo: number) => void;

/**
 * A codec's dequantizeBlocks (ggml's dequantize_row_*) for blocks of `blockBytes` bytes and QK_K floats that hold
 * one fp16 super-block scale d at byte `dOffset`: the walk over the blocks and the read of d, `dequantizeBlock` the rest.
 */
export function dequantizeSuperBlocks(blockBytes: number, dOffset: number, dequantizeBlock: SuperBlockDequantizer): GgmlCodec["dequantizeBlocks"] {
  return (src, so, nb, y, yo) => {
    for (let i = 0; i < nb; i++, so += blockBytes, yo += QK_K) dequantizeBlock(src, so, F16_TO_F32[readU16(src, so + dOffset)], y, yo);
  };
}
