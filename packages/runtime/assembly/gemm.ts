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
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let t = 0;
    // two tokens × four rows per pass: each weight vector load feeds two multiply-adds
    for (; t + 2 <= nTok; t += 2) {
      const xp = x + <usize>t * rowBytes;
      const xq = xp + rowBytes;
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
      const xp = x + <usize>t * rowBytes;
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
    const wr = w + <usize>r * rowBytes;
    for (let t = 0; t < nTok; t++) {
      const xp = x + <usize>t * rowBytes;
      let a = f32x4.splat(0);
      for (let c: usize = 0; c < rowBytes; c += 16) a = f32x4.add(a, f32x4.mul(v128.load(wr + c), v128.load(xp + c)));
      store<f32>(out + ((<usize>t * <usize>ldo + <usize>r) << 2), f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
    }
  }
}
