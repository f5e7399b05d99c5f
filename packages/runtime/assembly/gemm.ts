// AssemblyScript source of the WASM SIMD kernel (compiled by scripts/build-wasm.mjs into src/ops/gemm-wasm.ts).
// out[t·ldo + r] = Σ_c w[r·cols + c] · x[t·cols + c] for r < rows, t < nTok; f32 with four f32x4 partial sums.
// cols must be a multiple of 4. Pointers are byte offsets into this module's memory.

export function gemm(w: usize, x: usize, out: usize, rows: i32, cols: i32, nTok: i32, ldo: i32): void {
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    for (let t = 0; t < nTok; t++) {
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
      const o = out + ((<usize>t * <usize>ldo + <usize>r) << 2);
      store<f32>(o, f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3));
      store<f32>(o + 4, f32x4.extract_lane(a1, 0) + f32x4.extract_lane(a1, 1) + f32x4.extract_lane(a1, 2) + f32x4.extract_lane(a1, 3));
      store<f32>(o + 8, f32x4.extract_lane(a2, 0) + f32x4.extract_lane(a2, 1) + f32x4.extract_lane(a2, 2) + f32x4.extract_lane(a2, 3));
      store<f32>(o + 12, f32x4.extract_lane(a3, 0) + f32x4.extract_lane(a3, 1) + f32x4.extract_lane(a3, 2) + f32x4.extract_lane(a3, 3));
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
