import type { GGMLType } from "./ggml-types.js";

/** GGUF metadata value types (gguf.h `enum gguf_type`), stored as int32 on disk. */
export enum GGUFValueType {
  UINT8 = 0,
  INT8,
  UINT16,
  INT16,
  UINT32,
  INT32,
  FLOAT32,
  BOOL,
  STRING,
  ARRAY,
  UINT64,
  INT64,
  FLOAT64,
}

export function isGGUFValueType(v: number): v is GGUFValueType {
  return Number.isInteger(v) && v >= GGUFValueType.UINT8 && v <= GGUFValueType.FLOAT64;
}

/** UINT64 / INT64 values are bigint; other integers and floats are number. */
export type GGUFScalar = number | bigint | boolean | string;
export type GGUFValue = GGUFScalar | GGUFValue[];

export interface GGUFKV {
  type: GGUFValueType;
  value: GGUFValue;
  /** element type when type === ARRAY (nested arrays: ARRAY) */
  arrayType?: GGUFValueType;
  /**
   * Only when arrayType === ARRAY: each inner array as its own typed KV (the spec lets every inner
   * array carry its own element type). `value` holds the same data untyped. llama.cpp itself rejects
   * nested arrays, so files meant for llama.cpp should not use them.
   */
  items?: GGUFKV[];
}

export interface GGUFTensorInfo {
  name: string;
  /** ggml order: shape[0] = ne[0] = row length */
  shape: number[];
  type: GGMLType;
  /** relative to the data section */
  offset: number;
  byteLength: number;
}

/** "GGUF" as it appears in the first four bytes. */
export const GGUF_MAGIC = new Uint8Array([0x47, 0x47, 0x55, 0x46]);
/** The version we write; readers accept 2 and 3 like gguf.cpp (v1 has 32-bit counts and is rejected there too). */
export const GGUF_VERSION = 3;
/** ggml.h GGUF_DEFAULT_ALIGNMENT: used when general.alignment is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** gguf.cpp GGUF_MAX_STRING_LENGTH: longer strings are rejected by llama.cpp, so by us too. */
export const GGUF_MAX_STRING_LENGTH = 1024 * 1024 * 1024;
/** gguf.cpp GGUF_MAX_ARRAY_ELEMENTS: bounds an array count before anything is allocated for it. */
export const GGUF_MAX_ARRAY_ELEMENTS = 1024 * 1024 * 1024;
/**
 * Nested arrays deeper than this are rejected. llama.cpp allows no nesting at all; we read and write
 * a few levels (the spec allows them) but refuse the unbounded recursion a crafted file could ask for.
 */
export const GGUF_MAX_ARRAY_DEPTH = 8;
/** ggml.h GGML_MAX_NAME: tensor names must be shorter (it counts the NUL). */
export const GGML_MAX_NAME = 64;
/** ggml.h GGML_MAX_DIMS. */
export const GGML_MAX_DIMS = 4;

/** On-disk size of fixed-width scalar value types; STRING and ARRAY are variable (undefined). */
export const GGUF_SCALAR_SIZE: Readonly<Partial<Record<GGUFValueType, number>>> = {
  [GGUFValueType.UINT8]: 1,
  [GGUFValueType.INT8]: 1,
  [GGUFValueType.UINT16]: 2,
  [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4,
  [GGUFValueType.INT32]: 4,
  [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT64]: 8,
  [GGUFValueType.INT64]: 8,
  [GGUFValueType.FLOAT64]: 8,
};

/** Smallest on-disk size of one value of `type` (used to bound counts by the bytes left in the file). */
export function ggufMinValueSize(type: GGUFValueType): number {
  if (type === GGUFValueType.STRING) return 8; // u64 length, possibly empty
  if (type === GGUFValueType.ARRAY) return 4 + 8; // element type + count, possibly empty
  return GGUF_SCALAR_SIZE[type]!;
}

/** Rounds `n` up to a multiple of `alignment` (ggml.h GGML_PAD). */
export function ggufPad(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/**
 * The shape llama.cpp's C writer stores for a tensor: ggml_n_dims drops trailing 1-sized dims
 * (keeping at least one). Pass this to GGUFWriter.addTensor to reproduce gguf_write_to_file /
 * llama-quantize output byte for byte; gguf-py keeps the full shape instead.
 */
export function ggmlNDimsShape(shape: readonly number[]): number[] {
  const out = [...shape];
  while (out.length > 1 && out[out.length - 1] === 1) out.pop();
  return out;
}
