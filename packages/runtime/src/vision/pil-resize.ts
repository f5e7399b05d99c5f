/**
 * Bilinear resize of an 8-bit RGB image, bit-exact with Pillow's `Image.resize(size, BILINEAR)`
 * (libImaging/Resample.c: antialiased separable filter, support 1 scaled by the downscale factor,
 * 22-bit fixed-point coefficients, horizontal pass then vertical pass, both rounding to uint8).
 */
const PRECISION_BITS = 32 - 8 - 2;

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output pixel
  kk: Int32Array; // fixed-point weights, ksize per output pixel
}

function bilinear(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/** Matches precompute_coeffs + normalize_coeffs_8bpc (box = whole input). */
function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const pre = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bilinear((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && ww !== 0 ? pre[x] / ww : 0;
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v >= (1 << PRECISION_BITS) * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}

/** Resizes interleaved RGB `src` [h × w × 3] to [outH × outW × 3]. */
export function pilResizeBilinear(src: Uint8Array, w: number, h: number, outW: number, outH: number): Uint8Array {
  if (outW === w && outH === h) return src.slice();
  const needH = outW !== w;
  const needV = outH !== h;
  const horiz = precompute(w, outW);
  const vert = precompute(h, outH);
  let img = src;
  let iw = w;
  let ih = h;
  const half = 1 << (PRECISION_BITS - 1);
  const vb = Int32Array.from(vert.bounds);
  if (needH) {
    const first = vb[0];
    const last = vb[outH * 2 - 2] + vb[outH * 2 - 1];
    for (let i = 0; i < outH; i++) vb[i * 2] -= first;
    const rows = last - first;
    const tmp = new Uint8Array(rows * outW * 3);
    for (let y = 0; y < rows; y++) {
      const rowIn = (y + first) * w * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = horiz.bounds[xx * 2];
        const n = horiz.bounds[xx * 2 + 1];
        const k = xx * horiz.ksize;
        let s0 = half,
          s1 = half,
          s2 = half;
        for (let x = 0; x < n; x++) {
          const p = rowIn + (x + xmin) * 3;
          const c = horiz.kk[k + x];
          s0 += src[p] * c;
          s1 += src[p + 1] * c;
          s2 += src[p + 2] * c;
        }
        const o = (y * outW + xx) * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    img = tmp;
    iw = outW;
    ih = rows;
  }
  if (!needV) return img;
  const out = new Uint8Array(outH * iw * 3);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = vb[yy * 2];
    const n = vb[yy * 2 + 1];
    const k = yy * vert.ksize;
    for (let x = 0; x < iw; x++) {
      let s0 = half,
        s1 = half,
        s2 = half;
      for (let y = 0; y < n; y++) {
        const p = ((y + ymin) * iw + x) * 3;
        const c = vert.kk[k + y];
        s0 += img[p] * c;
        s1 += img[p + 1] * c;
        s2 += img[p + 2] * c;
      }
      const o = (yy * iw + x) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  void ih;
  return out;
}
