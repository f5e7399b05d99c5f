/** IEEE half and bfloat16 → f32 row decoders (exact; f16 through a 64 Ki-entry table). */

let f16Table: Float32Array | undefined;

function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return t;
}

export function f16ToF32(h: number): number {
  f16Table ??= buildF16Table();
  return f16Table[h & 0xffff];
}

/** Decodes `n` little-endian f16 values starting at byte `off`. */
export function f16RowToF32(src: Uint8Array, off: number, n: number, dst: Float32Array, dstOff = 0): void {
  const t = (f16Table ??= buildF16Table());
  for (let i = 0; i < n; i++) {
    const p = off + 2 * i;
    dst[dstOff + i] = t[src[p] | (src[p + 1] << 8)];
  }
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

/** Decodes `n` little-endian bf16 values starting at byte `off` (bf16 is the top half of an f32). */
export function bf16RowToF32(src: Uint8Array, off: number, n: number, dst: Float32Array, dstOff = 0): void {
  const dstBits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < n; i++) {
    const p = off + 2 * i;
    dstBits[dstOff + i] = ((src[p] | (src[p + 1] << 8)) << 16) >>> 0;
  }
}

/** Rounds an f32 to the nearest f16 (round-to-nearest-even) and back, as ggml_fp32_to_fp16 + fp16_to_fp32 would. */
export function roundToF16(x: number): number {
  bf16Scratch[0] = x;
  const f = bf16Bits[0];
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  let mant = f & 0x7fffff;
  let h: number;
  if (exp === 0xff) h = sign | 0x7c00 | (mant ? 0x200 : 0);
  else {
    const e = exp - 127 + 15;
    if (e >= 31) h = sign | 0x7c00;
    else if (e <= 0) {
      if (e < -10) h = sign;
      else {
        mant |= 0x800000;
        const shift = 14 - e;
        const half = 1 << (shift - 1);
        let m = mant >>> shift;
        const rem = mant & ((1 << shift) - 1);
        if (rem > half || (rem === half && (m & 1))) m++;
        h = sign | m;
      }
    } else {
      let m = mant >>> 13;
      const rem = mant & 0x1fff;
      let ee = e;
      if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) {
        m++;
        if (m === 0x400) {
          m = 0;
          ee++;
        }
      }
      h = ee >= 31 ? sign | 0x7c00 : sign | (ee << 10) | m;
    }
  }
  return f16ToF32(h);
}
