import type { GGMLType } from "@moeq/formats";

/**
 * One ggml tensor type's quantizer and dequantizer over flat typed arrays. Offsets are explicit so a caller can
 * work inside a larger buffer without copying; shapes are checked once by the registry, not here.
 */
export interface GgmlCodec {
  readonly type: GGMLType;
  /**
   * == ggml_quantize_chunk for this type: `nrows` rows of `nPerRow` floats from src[srcOffset…] into
   * dst[dstOffset…]. `imatrix` (nPerRow weights, or null) selects the quantize_*_impl path exactly where ggml does.
   */
  quantizeRows(src: Float32Array, srcOffset: number, nrows: number, nPerRow: number, imatrix: Float32Array | null, dst: Uint8Array, dstOffset: number): void;
  /** == ggml's to_float: `nBlocks` blocks from src[srcOffset…] into dst[dstOffset…]. */
  dequantizeBlocks(src: Uint8Array, srcOffset: number, nBlocks: number, dst: Float32Array, dstOffset: number): void;
}

/** Reads a little-endian u16 (an fp16 field) from a block. */
export function readU16(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}

/** Reads a little-endian u32 from a block (unsigned, as DataView.getUint32). */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

/** Writes a little-endian u16 (an fp16 field) into a block. */
export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}
