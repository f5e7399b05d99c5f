// AssemblyScript f64 kernels for GPTQ's inverse-Hessian factor and error feedback (the TypeScript in
// src/kernels/cholesky.ts and src/kernels/block-update.ts stays the readable reference), compiled to WebAssembly by
// scripts/build-wasm.mjs. Everything is one matrix product, `gemmSub` (C −= A·B on f64x2 lanes, 4×4 register tiles,
// 64-row cache blocks, B packed in 4-column panels so that its reads are contiguous whatever its row stride), around which the blocked Cholesky, the blocked triangular inverse and GPTQ's lazy update
// are built. Same operations as the reference, in a different summation order (dot products run in two lanes and
// the factorizations accumulate panel by panel), so results agree to rounding, not bit for bit.
//
// Memory: the caller (src/kernels/gptq-wasm.ts) lays the matrices out above heapBase(). All matrices are row-major
// f64; leading dimensions are in elements.

const MB: i32 = 64; // rows of A per cache block in gemmSub
const NB: i32 = 64; // panel width of the blocked Cholesky and triangular inverse

export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}
@inline function ld(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}
@inline function st(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}

/** Σ_{k<len} a[k]·b[k] in two f64x2 accumulators. */
function dot(a: usize, b: usize, len: i32): f64 {
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    s0 = f64x2.add(s0, f64x2.mul(v128.load(at(a, k)), v128.load(at(b, k))));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(at(a, k), 16), v128.load(at(b, k), 16)));
  }
  const s = f64x2.add(s0, s1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; k < len; k++) r += ld(a, k) * ld(b, k);
  return r;
}

/**
 * B [kk × nc] (leading dimension ldb) → panels of 4 columns, panel t at Bp + t·stride: Bp[t·stride + 4p + q] = B[p, 4t + q],
 * the last panel padded with zeros.
 */
function packB(Bp: usize, stride: i32, B: usize, ldb: i32, kk: i32, nc: i32): void {
  for (let t = 0; t * 4 < nc; t++) {
    for (let p = 0; p < kk; p++) {
      for (let q = 0; q < 4; q++) {
        const c = t * 4 + q;
        st(Bp, t * stride + p * 4 + q, c < nc ? ld(B, p * ldb + c) : 0);
      }
    }
  }
}

/** C[0..4, 0..4] −= A[0..4, :kk]·Bp (one packed panel): 8 f64x2 accumulators, one splat of A per row and two loads of B per p. */
@inline function tile4x4(C: usize, ldc: i32, A: usize, lda: i32, B: usize, kk: i32): void {
  const sa = <usize>lda << 3;
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  let pa = A;
  let pb = B;
  for (let p = 0; p < kk; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const x0 = v128.load64_splat(pa);
    const x1 = v128.load64_splat(pa + sa);
    const x2 = v128.load64_splat(pa + 2 * sa);
    const x3 = v128.load64_splat(pa + 3 * sa);
    c00 = f64x2.add(c00, f64x2.mul(x0, b0));
    c01 = f64x2.add(c01, f64x2.mul(x0, b1));
    c10 = f64x2.add(c10, f64x2.mul(x1, b0));
    c11 = f64x2.add(c11, f64x2.mul(x1, b1));
    c20 = f64x2.add(c20, f64x2.mul(x2, b0));
    c21 = f64x2.add(c21, f64x2.mul(x2, b1));
    c30 = f64x2.add(c30, f64x2.mul(x3, b0));
    c31 = f64x2.add(c31, f64x2.mul(x3, b1));
    pa += 8;
    pb += 32;
  }
  const sc = <usize>ldc << 3;
  let pc = C;
  v128.store(pc, f64x2.sub(v128.load(pc), c00));
  v128.store(pc, f64x2.sub(v128.load(pc, 16), c01), 16);
  pc += sc;
  v128.store(pc, f64x2.sub(v128.load(pc), c10));
  v128.store(pc, f64x2.sub(v128.load(pc, 16), c11), 16);
  pc += sc;
  v128.store(pc, f64x2.sub(v128.load(pc), c20));
  v128.store(pc, f64x2.sub(v128.load(pc, 16), c21), 16);
  pc += sc;
  v128.store(pc, f64x2.sub(v128.load(pc), c30));
  v128.store(pc, f64x2.sub(v128.load(pc, 16), c31), 16);
}

/** One row of C, four columns: C[0, 0..4] −= A[0, :kk]·Bp (one packed panel). */
@inline function tile1x4(C: usize, A: usize, B: usize, kk: i32): void {
  let c0 = f64x2.splat(0), c1 = f64x2.splat(0);
  let pb = B;
  for (let p = 0; p < kk; p++) {
    const x = v128.load64_splat(at(A, p));
    c0 = f64x2.add(c0, f64x2.mul(x, v128.load(pb)));
    c1 = f64x2.add(c1, f64x2.mul(x, v128.load(pb, 16)));
    pb += 32;
  }
  v128.store(C, f64x2.sub(v128.load(C), c0));
  v128.store(C, f64x2.sub(v128.load(C, 16), c1), 16);
}

/** C[i, c] −= Σ_{p<kk} A[i, p]·B[p, c] for i < m, c < nc, with B packed by packB (panel stride `bs`). */
function gemmSub(C: usize, ldc: i32, A: usize, lda: i32, Bp: usize, bs: i32, m: i32, nc: i32, kk: i32): void {
  for (let i0 = 0; i0 < m; i0 += MB) {
    const i1 = min(i0 + MB, m);
    let c = 0;
    for (; c + 4 <= nc; c += 4) {
      const panel = at(Bp, (c >> 2) * bs);
      let i = i0;
      for (; i + 4 <= i1; i += 4) tile4x4(at(C, i * ldc + c), ldc, at(A, i * lda), lda, panel, kk);
      for (; i < i1; i++) tile1x4(at(C, i * ldc + c), at(A, i * lda), panel, kk);
    }
    for (; c < nc; c++) {
      const panel = at(Bp, (c >> 2) * bs + (c & 3));
      for (let i = i0; i < i1; i++) {
        let s: f64 = 0;
        for (let p = 0; p < kk; p++) s += ld(A, i * lda + p) * ld(panel, p * 4);
        st(C, i * ldc + c, ld(C, i * ldc + c) - s);
      }
    }
  }
}

/**
 * Lower Cholesky factor L (A = L·Lᵀ) of A [n × n] in place, upper triangle zeroed; right-looking by panels of NB
 * columns, the trailing update through gemmSub. `T` is scratch for NB·n values. Returns 0 when A is not positive
 * definite (A is then partly overwritten).
 */
export function choleskyLower(A: usize, n: i32, T: usize): i32 {
  for (let j0 = 0; j0 < n; j0 += NB) {
    const j1 = min(j0 + NB, n);
    const jb = j1 - j0;
    for (let j = j0; j < j1; j++) {
      const rj = at(A, j * n + j0);
      const d = ld(A, j * n + j) - dot(rj, rj, j - j0);
      if (!(d > 0) || !isFinite(d)) return 0;
      const ljj = Math.sqrt(d);
      st(A, j * n + j, ljj);
      const inv = 1 / ljj;
      for (let i = j + 1; i < n; i++) st(A, i * n + j, (ld(A, i * n + j) - dot(at(A, i * n + j0), rj, j - j0)) * inv);
    }
    if (j1 === n) break;
    // A[j1:, j1:] −= L21·L21ᵀ on the lower triangle (whole 4-wide tiles, so a little of the upper one too), with
    // T = L21ᵀ [jb × m] packed.
    const m = n - j1;
    for (let c = 0; c < m; c++) for (let p = 0; p < jb; p++) st(T, (c >> 2) * jb * 4 + p * 4 + (c & 3), ld(A, (j1 + c) * n + j0 + p));
    for (let c = m; c < ((m + 3) & ~3); c++) for (let p = 0; p < jb; p++) st(T, (c >> 2) * jb * 4 + p * 4 + (c & 3), 0);
    for (let ib = j1; ib < n; ib += MB) {
      const ie = min(ib + MB, n);
      gemmSub(at(A, ib * n + j1), n, at(A, ib * n + j0), n, T, jb * 4, ie - ib, ie - j1, jb);
    }
  }
  for (let i = 0; i < n; i++) for (let k = i + 1; k < n; k++) st(A, i * n + k, 0);
  return 1;
}

/** Inverse of the lower-triangular block at L (order b, leading dimension n) in place, column by column. */
function invertDiagonalBlock(L: usize, n: i32, b: i32, col: usize): void {
  for (let j = 0; j < b; j++) st(L, j * n + j, 1 / ld(L, j * n + j));
  for (let j = 0; j < b; j++) {
    st(col, j, ld(L, j * n + j));
    for (let i = j + 1; i < b; i++) st(col, i, -dot(at(L, i * n + j), at(col, j), i - j) * ld(L, i * n + i));
    for (let i = j + 1; i < b; i++) st(L, i * n + j, ld(col, i));
  }
}

/**
 * Inverse of a lower-triangular L [n × n] (upper triangle zero) in place, by panels of NB columns from the last:
 * X11 = L11⁻¹, then X21 = −X22·L21·X11 with X22 the already inverted trailing block. `T` is scratch for
 * 2·NB·n + NB values.
 */
export function invertLower(L: usize, n: i32, T: usize): void {
  const P = at(T, NB * n);
  const col = at(T, 2 * NB * n);
  for (let j = ((n - 1) / NB) * NB; j >= 0; j -= NB) {
    const jb = min(NB, n - j);
    const j1 = j + jb;
    invertDiagonalBlock(at(L, j * n + j), n, jb, col);
    if (j1 === n) continue;
    const m = n - j1;
    // P = −L21 packed; L21 = 0; L21 −= X22·P (X22 is lower-triangular: rows up to ie need columns up to ie only).
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < jb; p++) {
        st(L, (j1 + i) * n + j + p, -ld(L, (j1 + i) * n + j + p));
      }
    }
    packB(P, m * 4, at(L, j1 * n + j), n, m, jb);
    for (let i = 0; i < m; i++) for (let p = 0; p < jb; p++) st(L, (j1 + i) * n + j + p, 0);
    for (let ib = 0; ib < m; ib += MB) {
      const ie = min(ib + MB, m);
      gemmSub(at(L, (j1 + ib) * n + j), n, at(L, (j1 + ib) * n + j1), n, P, m * 4, ie - ib, jb, ie);
    }
    // L21 = −(X22·L21)·X11: T = L21; L21 = 0; L21 −= T·X11 (X11 packed into P).
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < jb; p++) {
        st(T, i * jb + p, ld(L, (j1 + i) * n + j + p));
        st(L, (j1 + i) * n + j + p, 0);
      }
    }
    packB(P, jb * 4, at(L, j * n + j), n, jb, jb);
    gemmSub(at(L, j1 * n + j), n, T, jb, P, jb * 4, m, jb, jb);
  }
}

/** WT[k, :] −= U[i, k]·err for k in [k0, k1): GPTQ's in-block update (WT is [n × rows], U is [n × n]). */
export function subtractRankOne(WT: usize, rows: i32, err: usize, U: usize, n: i32, i: i32, k0: i32, k1: i32): void {
  for (let k = k0; k < k1; k++) {
    const u = ld(U, i * n + k);
    if (u == 0) continue;
    const uv = f64x2.splat(u);
    const w = at(WT, k * rows);
    let r = 0;
    for (; r + 2 <= rows; r += 2) v128.store(at(w, r), f64x2.sub(v128.load(at(w, r)), f64x2.mul(uv, v128.load(at(err, r)))));
    for (; r < rows; r++) st(w, r, ld(w, r) - u * ld(err, r));
  }
}

/**
 * GPTQ's lazy update WT[k, :] −= Σ_{j ∈ [i1, i2)} U[j, k]·Err[j − i1, :] for k in [i2, n), as WT[i2:] −= Uᵀ·Err with
 * Uᵀ = U[i1:i2, i2:]ᵀ copied into `T` and Err packed after it ((n − i2)·b + b·(rows + 3) values, b = i2 − i1).
 */
export function subtractBlockErrors(WT: usize, rows: i32, Err: usize, U: usize, n: i32, i1: i32, i2: i32, T: usize): void {
  const m = n - i2;
  const b = i2 - i1;
  if (m <= 0) return;
  for (let j = 0; j < b; j++) for (let k = 0; k < m; k++) st(T, k * b + j, ld(U, (i1 + j) * n + i2 + k));
  const Ep = at(T, m * b);
  packB(Ep, b * 4, Err, rows, b, rows);
  gemmSub(at(WT, i2 * rows), rows, T, b, Ep, b * 4, m, rows, b);
}
