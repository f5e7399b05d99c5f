/**
 * Dense symmetric-positive-definite kernels on row-major Float64Array [n × n] matrices, in place, no allocation
 * beyond one scratch row. They stand in for torch.linalg.cholesky / torch.cholesky_inverse /
 * torch.linalg.cholesky(upper=True) in GPTQ's inverse-Hessian step.
 */

/** Σ_{k<len} a[ia + k]·b[ib + k] with four partial sums (breaks the add latency chain; order differs from a plain loop). */
function dot(a: Float64Array, ia: number, b: Float64Array, ib: number, len: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    s0 += a[ia + k] * b[ib + k];
    s1 += a[ia + k + 1] * b[ib + k + 1];
    s2 += a[ia + k + 2] * b[ib + k + 2];
    s3 += a[ia + k + 3] * b[ib + k + 3];
  }
  for (; k < len; k++) s0 += a[ia + k] * b[ib + k];
  return s0 + s1 + (s2 + s3);
}

/**
 * Lower Cholesky factor L (A = L·Lᵀ) written into the lower triangle of `A` (upper triangle zeroed).
 * Returns false, leaving `A` partly overwritten, when A is not positive definite.
 */
export function choleskyLowerInPlace(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    const d = A[rj + j] - dot(A, rj, A, rj, j);
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    A[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      A[ri + j] = (A[ri + j] - dot(A, ri, A, rj, j)) * inv;
    }
    for (let k = j + 1; k < n; k++) A[rj + k] = 0;
  }
  return true;
}

/** Inverse of a lower-triangular L in place (result lower-triangular). */
export function invertLowerInPlace(L: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) L[j * n + j] = 1 / L[j * n + j];
  // Column by column: X[i, j] = −(Σ_{k=j}^{i−1} L[i, k]·X[k, j]) / L[i, i], using the already inverted columns.
  const col = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    col[j] = L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      col[i] = -dot(L, ri + j, col, j, i - j) * L[ri + i];
    }
    for (let i = j + 1; i < n; i++) L[i * n + j] = col[i];
  }
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U) in two steps instead of torch's three: with J the reversal
 * permutation and J·H·J = M·Mᵀ (lower M), H⁻¹ = (J·M⁻¹·J)ᵀ·(J·M⁻¹·J) and J·M⁻¹·J is upper-triangular with a positive
 * diagonal, so it is U. Same result as cholesky → cholesky_inverse → cholesky(upper) (the reference path below,
 * compared in cholesky.test.ts) at two thirds of the work. Returns null when H is not positive definite.
 */
export function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array | null {
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = H[(n - 1 - i) * n + (n - 1 - j)];
  if (!choleskyLowerInPlace(A, n)) return null;
  invertLowerInPlace(A, n);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = A[(n - 1 - i) * n + (n - 1 - j)];
  for (let i = 0; i < n; i++) if (!(U[i * n + i] > 0) || !Number.isFinite(U[i * n + i])) return null;
  return U;
}

// Reference path, torch's three steps (kept to check upperCholeskyOfInverse against).

/** A⁻¹ = L⁻ᵀ·L⁻¹ from Linv = L⁻¹ (lower), written as a full symmetric matrix into `out`. torch.cholesky_inverse. */
export function inverseFromLowerInverse(Linv: Float64Array, n: number, out: Float64Array): void {
  out.fill(0);
  // (LinvᵀLinv)[i, j] = Σ_k Linv[k, i]·Linv[k, j]: one rank-1 update per row k of Linv (contiguous reads).
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i <= k; i++) {
      const a = Linv[rk + i];
      if (a === 0) continue;
      const ri = i * n;
      for (let j = 0; j <= i; j++) out[ri + j] += a * Linv[rk + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
}

/** Upper Cholesky factor U (A = Uᵀ·U) of a symmetric A in place; false when not positive definite. */
export function choleskyUpperInPlace(A: Float64Array, n: number): boolean {
  // Right-looking: row i of U from the updated row i of A, then the trailing block loses U[i, :]ᵀ·U[i, :].
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const d = A[ri + i];
    if (!(d > 0) || !Number.isFinite(d)) return false;
    const uii = Math.sqrt(d);
    const inv = 1 / uii;
    A[ri + i] = uii;
    for (let j = i + 1; j < n; j++) A[ri + j] *= inv;
    for (let j = 0; j < i; j++) A[ri + j] = 0;
    for (let k = i + 1; k < n; k++) {
      const u = A[ri + k];
      if (u === 0) continue;
      const rk = k * n;
      for (let j = k; j < n; j++) A[rk + j] -= u * A[ri + j];
    }
  }
  return true;
}
