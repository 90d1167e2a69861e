/**
 * OpenBLAS `cblas_sgemm` through `Deno.dlopen`, with a blocked TypeScript fallback.
 *
 * Found by the shared loader policy (lib/util/library.ts): `FACGCNN_BLAS` (a path; a missing
 * file means "use the fallback", which is how tests hide OpenBLAS), then the usual places. The
 * choice is reported by `backendInfo()`, never silent.
 * @module
 */

import { fn } from "../ffi.ts";
import { gemmFallback } from "./gemm_fallback.ts";
import { LibraryNotFoundError, type LibrarySpec, openLibrary } from "../../util/library.ts";
import { setting } from "../../util/settings.ts";

const CBLAS_SYMBOLS = {
  // (order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
  cblas_sgemm: fn("iiiiiifbibifbi", "void"),
} as const satisfies Deno.ForeignLibraryInterface;

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

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

/** Where a CBLAS with `cblas_sgemm` usually is (Debian's OpenBLAS first). */
export const BLAS_SPEC: LibrarySpec = {
  name: "libopenblas",
  override: "blas",
  sonames: ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libcblas.so.3"],
  folders: () => [
    "/usr/lib/x86_64-linux-gnu/openblas-pthread",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/opt/homebrew/opt/openblas/lib",
  ],
};

/**
 * OpenBLAS's idle spin, as a power of two of CPU cycles (`OPENBLAS_THREAD_TIMEOUT`): 2^14, about
 * 6 µs. After every call, OpenBLAS's pthread workers spin (with `sched_yield`) for 2^28 cycles
 * (~0.1 s) by default before they sleep, on the same cores that the native kernels' OpenMP
 * threads run on next; on a 2-core EPYC VM that halved the speed of the edge kernels that
 * follow a GEMM, and a CGCNN epoch (carbon cells, A = 64, batch 256) took 0.55-0.63 s instead
 * of 0.40-0.45 s. OpenBLAS reads the variable when it is loaded, so it is set (unless the user
 * set it) before the library is opened.
 */
export const BLAS_SPIN_LOG2_CYCLES = 14;

function shortenBlasSpin(): void {
  try {
    if (!Deno.env.get("OPENBLAS_THREAD_TIMEOUT") && !Deno.env.get("GOTO_THREAD_TIMEOUT")) {
      Deno.env.set("OPENBLAS_THREAD_TIMEOUT", String(BLAS_SPIN_LOG2_CYCLES));
    }
  } catch { /* no --allow-env: OpenBLAS's default */ }
}

/**
 * Opens a CBLAS library: `path` if given, else `FACGCNN_BLAS`, else the usual places (the
 * shared policy of lib/util/library.ts). Falls back to the TypeScript GEMM with every path
 * tried recorded as the reason.
 */
export function loadBlas(path?: string): BlasChoice {
  shortenBlasSpin();
  let loaded;
  try {
    loaded = openLibrary({ ...BLAS_SPEC, path }, CBLAS_SYMBOLS);
  } catch (e) {
    const source = path !== undefined
      ? "the blasPath option"
      : setting("blas") !== undefined
      ? "FACGCNN_BLAS"
      : "the usual places";
    const tried = e instanceof LibraryNotFoundError ? e.tried.join("; ") : String(e);
    return {
      sgemm: gemmFallback,
      description: "TypeScript blocked GEMM (fallback, ~100× slower than OpenBLAS)",
      reason: `no CBLAS found in ${source}: ${tried}`,
    };
  }
  const raw = loaded.lib.symbols.cblas_sgemm;
  const sgemm: HostSgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
    raw(
      CBLAS_ROW_MAJOR,
      tA ? CBLAS_TRANS : CBLAS_NO_TRANS,
      tB ? CBLAS_TRANS : CBLAS_NO_TRANS,
      ...[m, n, k, alpha, a, lda, b, ldb, beta, c, ldc] as const,
    );
  return { sgemm, description: `OpenBLAS cblas_sgemm (${loaded.path})` };
}
