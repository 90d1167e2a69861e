/**
 * A blocked, row-major float32 GEMM in plain TypeScript: used when OpenBLAS is absent.
 *
 * Each transpose case is arranged so that the innermost loop walks contiguous memory, and
 * the k dimension is blocked so a panel of B stays in cache. Accumulation is in float64
 * registers (JS numbers), rounded once when stored.
 * @module
 */

const K_BLOCK = 128;

/** `C[m,n] = alpha·op(A)·op(B) + beta·C` on row-major arrays with leading dimensions. */
export function gemmFallback(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): void {
  scaleC(c, m, n, ldc, beta);
  if (alpha === 0 || k === 0) return;
  if (!transB) {
    // C[i,:] += alpha·A(i,p)·B[p,:]: the inner loop streams rows of B and C.
    for (let p0 = 0; p0 < k; p0 += K_BLOCK) {
      const p1 = Math.min(k, p0 + K_BLOCK);
      for (let i = 0; i < m; i++) {
        const cRow = i * ldc;
        for (let p = p0; p < p1; p++) {
          const av = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
          if (av === 0) continue;
          const bRow = p * ldb;
          for (let j = 0; j < n; j++) c[cRow + j] += av * b[bRow + j];
        }
      }
    }
    return;
  }
  if (!transA) {
    // C[i,j] += alpha·dot(A[i,:], B[j,:]): both rows contiguous.
    for (let i = 0; i < m; i++) {
      const aRow = i * lda;
      for (let j = 0; j < n; j++) {
        const bRow = j * ldb;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let p = 0;
        for (; p + 3 < k; p += 4) {
          s0 += a[aRow + p] * b[bRow + p];
          s1 += a[aRow + p + 1] * b[bRow + p + 1];
          s2 += a[aRow + p + 2] * b[bRow + p + 2];
          s3 += a[aRow + p + 3] * b[bRow + p + 3];
        }
        for (; p < k; p++) s0 += a[aRow + p] * b[bRow + p];
        c[i * ldc + j] += alpha * (s0 + s1 + s2 + s3);
      }
    }
    return;
  }
  // Both transposed (rare): C[i,j] += alpha·Σ_p A[p,i]·B[j,p].
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[p * lda + i] * b[j * ldb + p];
      c[i * ldc + j] += alpha * s;
    }
  }
}

function scaleC(c: Float32Array, m: number, n: number, ldc: number, beta: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const row = i * ldc;
    if (beta === 0) c.fill(0, row, row + n);
    else for (let j = 0; j < n; j++) c[row + j] *= beta;
  }
}
