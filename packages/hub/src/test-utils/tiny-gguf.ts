/** Builds a GGUF v3 file with string metadata and no tensors (enough for card metadata tests). */
export function tinyGguf(kv: Record<string, string>, padTo = 0): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s, "utf8")]);
  parts.push(Buffer.from("GGUF", "ascii"), u32(3), u64(0), u64(Object.keys(kv).length));
  for (const [k, v] of Object.entries(kv)) parts.push(str(k), u32(8 /* GGUF string */), str(v));
  const body = Buffer.concat(parts);
  return body.length >= padTo ? body : Buffer.concat([body, Buffer.alloc(padTo - body.length)]);
}
