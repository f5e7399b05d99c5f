/**
 * Typed GGUF metadata values (@moeq/formats' `GGUFKV`) as the converter builds them, and number/string
 * reads of a parsed file's metadata. The wire type is part of llama.cpp's output, so it is always explicit.
 */
import { GGUFValueType, type GGUFFile, type GGUFKV, type GGUFScalar } from "@moeq/formats";

export const kvU32 = (v: number): GGUFKV => ({ type: GGUFValueType.UINT32, value: v });
export const kvI32 = (v: number): GGUFKV => ({ type: GGUFValueType.INT32, value: v });
export const kvF32 = (v: number): GGUFKV => ({ type: GGUFValueType.FLOAT32, value: v });
export const kvBool = (v: boolean): GGUFKV => ({ type: GGUFValueType.BOOL, value: v });
export const kvStr = (v: string): GGUFKV => ({ type: GGUFValueType.STRING, value: v });
export const kvArr = (arrayType: Exclude<GGUFValueType, GGUFValueType.ARRAY>, value: readonly GGUFScalar[]): GGUFKV => ({
  type: GGUFValueType.ARRAY,
  arrayType,
  value: [...value],
});

/** A numeric metadata value (the first element of an array value), or undefined when absent or not numeric. */
export function ggufNumber(f: Pick<GGUFFile, "get">, key: string): number | undefined {
  let v = f.get(key);
  if (Array.isArray(v)) v = v[0];
  return typeof v === "number" || typeof v === "bigint" ? Number(v) : undefined;
}

export function ggufString(f: Pick<GGUFFile, "get">, key: string): string | undefined {
  const v = f.get(key);
  return typeof v === "string" ? v : undefined;
}
