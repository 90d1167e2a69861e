/**
 * OpenBLAS `cblas_sgemm` through `Deno.dlopen`, with a blocked TypeScript fallback.
 *
 * Resolution order: `FACGCNN_BLAS` (a path; a missing file means "use the fallback", which is
 * how tests hide OpenBLAS), then the usual sonames. The choice is reported by
 * `backendInfo()`, never silent.
 * @module
 */

import { gemmFallback } from "./gemm_fallback.ts";

const CBLAS_SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

/** Usual places of a CBLAS with `cblas_sgemm` (Debian's OpenBLAS first). */
const DEFAULT_CANDIDATES = [
  "libopenblas.so.0",
  "libopenblas.so",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.dylib",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "libcblas.so.3",
];

/** A row-major float32 GEMM on host arrays: `C = alpha·op(A)·op(B) + beta·C`. */
export type HostSgemm = (
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
) => void;

/** The GEMM in use and how it was chosen. */
export interface BlasChoice {
  sgemm: HostSgemm;
  /** e.g. "OpenBLAS cblas_sgemm (libopenblas.so.0)" or "TypeScript blocked GEMM (fallback)". */
  description: string;
  /** Why the fallback is in use, when it is. */
  reason?: string;
}

/**
 * Opens a CBLAS library: `path` if given, else `FACGCNN_BLAS`, else the usual sonames.
 * Falls back to the TypeScript GEMM with the reason recorded.
 */
export function loadBlas(path?: string): BlasChoice {
  let override = path;
  if (override === undefined) {
    try {
      override = Deno.env.get("FACGCNN_BLAS") || undefined;
    } catch {
      // No --allow-env: use the defaults.
    }
  }
  const candidates = override !== undefined ? [override] : DEFAULT_CANDIDATES;
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      const lib = Deno.dlopen(candidate, CBLAS_SYMBOLS);
      const raw = lib.symbols.cblas_sgemm;
      const sgemm: HostSgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
        raw(
          CBLAS_ROW_MAJOR,
          tA ? CBLAS_TRANS : CBLAS_NO_TRANS,
          tB ? CBLAS_TRANS : CBLAS_NO_TRANS,
          m,
          n,
          k,
          alpha,
          a,
          lda,
          b,
          ldb,
          beta,
          c,
          ldc,
        );
      };
      return { sgemm, description: `OpenBLAS cblas_sgemm (${candidate})` };
    } catch (e) {
      failures.push(`${candidate}: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
    }
  }
  const source = override !== undefined ? "FACGCNN_BLAS" : "the usual places";
  return {
    sgemm: gemmFallback,
    description: "TypeScript blocked GEMM (fallback, ~100× slower than OpenBLAS)",
    reason: `no CBLAS found in ${source}: ${failures.join("; ")}`,
  };
}
