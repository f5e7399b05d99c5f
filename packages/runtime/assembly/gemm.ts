// AssemblyScript source of the WASM SIMD kernel (compiled by scripts/build-wasm.mjs into src/ops/gemm-wasm.ts).
// out[t·ldo + r] = Σ_c w[r·cols + c] · x[t·cols + c] for r < rows, t < nTok; f32 with four f32x4 partial sums.
// cols must be a multiple of 4. Pointers are byte offsets into this module's memory.

@inline function hsum(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
}

@inline function store4(o: usize, a0: v128, a1: v128, a2: v128, a3: v128): void {
  store<f32>(o, hsum(a0));
  store<f32>(o + 4, hsum(a1));
  store<f32>(o + 8, hsum(a2));
  store<f32>(o + 12, hsum(a3));
}

export function gemm(w: usize, x: usize, out: usize, rows: i32, cols: i32, nTok: i32, ldo: i32): void {
  gemmStrided(w, cols, x, cols, out, rows, cols, nTok, ldo);
}

/** `gemm` with weight rows `ldw` floats apart and activation rows `ldx` floats apart (same sums, same order). */
export function gemmStrided(w: usize, ldw: i32, x: usize, ldx: i32, out: usize, rows: i32, cols: i32, nTok: i32, ldo: i32): void {
  const rowBytes = <usize>cols << 2;
  const wStride = <usize>ldw << 2;
  const xStride = <usize>ldx << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * wStride;
    const w1 = w0 + wStride;
    const w2 = w1 + wStride;
    const w3 = w2 + wStride;
    let t = 0;
    // two tokens × four rows per pass: each weight vector load feeds two multiply-adds
    for (; t + 2 <= nTok; t += 2) {
      const xp = x + <usize>t * xStride;
      const xq = xp + xStride;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0);
      let b1 = f32x4.splat(0);
      let b2 = f32x4.splat(0);
      let b3 = f32x4.splat(0);
      for (let c: usize = 0; c < rowBytes; c += 16) {
        const xv = v128.load(xp + c);
        const yv = v128.load(xq + c);
        const v0 = v128.load(w0 + c);
        const v1 = v128.load(w1 + c);
        const v2 = v128.load(w2 + c);
        const v3 = v128.load(w3 + c);
        a0 = f32x4.add(a0, f32x4.mul(v0, xv));
        a1 = f32x4.add(a1, f32x4.mul(v1, xv));
        a2 = f32x4.add(a2, f32x4.mul(v2, xv));
        a3 = f32x4.add(a3, f32x4.mul(v3, xv));
        b0 = f32x4.add(b0, f32x4.mul(v0, yv));
        b1 = f32x4.add(b1, f32x4.mul(v1, yv));
        b2 = f32x4.add(b2, f32x4.mul(v2, yv));
        b3 = f32x4.add(b3, f32x4.mul(v3, yv));
      }
      const o = out + ((<usize>t * <usize>ldo + <usize>r) << 2);
      store4(o, a0, a1, a2, a3);
      store4(o + ((<usize>ldo) << 2), b0, b1, b2, b3);
    }
    for (; t < nTok; t++) {
      const xp = x + <usize>t * xStride;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      for (let c: usize = 0; c < rowBytes; c += 16) {
        const xv = v128.load(xp + c);
        a0 = f32x4.add(a0, f32x4.mul(v128.load(w0 + c), xv));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(w1 + c), xv));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(w2 + c), xv));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(w3 + c), xv));
      }
      store4(out + ((<usize>t * <usize>ldo + <usize>r) << 2), a0, a1, a2, a3);
    }
  }
  for (; r < rows; r++) {
    const wr = w + <usize>r * wStride;
    for (let t = 0; t < nTok; t++) {
      const xp = x + <usize>t * xStride;
      let a = f32x4.splat(0);
      for (let c: usize = 0; c < rowBytes; c += 16) a = f32x4.add(a, f32x4.mul(v128.load(wr + c), v128.load(xp + c)));
      store<f32>(out + ((<usize>t * <usize>ldo + <usize>r) << 2), f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
    }
  }
}

/**
 * out[t·ldo + i] = Σ_j p[t·ldp + j] · v[j·ldv + i] for i < hd (a multiple of 4), j < len, t < nTok: attention's
 * V·P with V in its cache layout (no transposed copy). The sums follow `gemm` over Vᵀ exactly — four lanes by
 * j mod 4, each summed in j order, then ((l0 + l1) + l2) + l3 — vectorized over i instead of over j; `gemm`'s zero
 * padding of j up to a multiple of 4 only adds +0 to sums that are never −0, so it is left out.
 */
export function gemmVP(v: usize, ldv: i32, p: usize, ldp: i32, out: usize, ldo: i32, hd: i32, len: i32, nTok: i32): void {
  const vStride = <usize>ldv << 2;
  for (let t = 0; t < nTok; t++) {
    const pt = p + (<usize>(t * ldp) << 2);
    const ot = out + (<usize>(t * ldo) << 2);
    for (let i = 0; i < hd; i += 8) {
      const two = i + 8 <= hd;
      const vi = v + (<usize>i << 2);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0);
      let b1 = f32x4.splat(0);
      let b2 = f32x4.splat(0);
      let b3 = f32x4.splat(0);
      let j = 0;
      for (; j + 4 <= len; j += 4) {
        const r = vi + <usize>j * vStride;
        const p0 = f32x4.splat(load<f32>(pt + (<usize>j << 2)));
        const p1 = f32x4.splat(load<f32>(pt + (<usize>j << 2) + 4));
        const p2 = f32x4.splat(load<f32>(pt + (<usize>j << 2) + 8));
        const p3 = f32x4.splat(load<f32>(pt + (<usize>j << 2) + 12));
        a0 = f32x4.add(a0, f32x4.mul(v128.load(r), p0));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(r + vStride), p1));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(r + 2 * vStride), p2));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(r + 3 * vStride), p3));
        if (two) {
          b0 = f32x4.add(b0, f32x4.mul(v128.load(r + 16), p0));
          b1 = f32x4.add(b1, f32x4.mul(v128.load(r + vStride + 16), p1));
          b2 = f32x4.add(b2, f32x4.mul(v128.load(r + 2 * vStride + 16), p2));
          b3 = f32x4.add(b3, f32x4.mul(v128.load(r + 3 * vStride + 16), p3));
        }
      }
      // the last j < len: lanes 0, 1, 2 in turn
      if (j < len) {
        const r = vi + <usize>j * vStride;
        const p0 = f32x4.splat(load<f32>(pt + (<usize>j << 2)));
        a0 = f32x4.add(a0, f32x4.mul(v128.load(r), p0));
        if (two) b0 = f32x4.add(b0, f32x4.mul(v128.load(r + 16), p0));
        if (j + 1 < len) {
          const p1 = f32x4.splat(load<f32>(pt + (<usize>j << 2) + 4));
          a1 = f32x4.add(a1, f32x4.mul(v128.load(r + vStride), p1));
          if (two) b1 = f32x4.add(b1, f32x4.mul(v128.load(r + vStride + 16), p1));
        }
        if (j + 2 < len) {
          const p2 = f32x4.splat(load<f32>(pt + (<usize>j << 2) + 8));
          a2 = f32x4.add(a2, f32x4.mul(v128.load(r + 2 * vStride), p2));
          if (two) b2 = f32x4.add(b2, f32x4.mul(v128.load(r + 2 * vStride + 16), p2));
        }
      }
      v128.store(ot + (<usize>i << 2), f32x4.add(f32x4.add(f32x4.add(a0, a1), a2), a3));
      if (two) v128.store(ot + (<usize>i << 2) + 16, f32x4.add(f32x4.add(f32x4.add(b0, b1), b2), b3));
    }
  }
}
