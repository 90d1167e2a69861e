/**
 * Typed symbol table for cuBLAS (`libcublas.so.13` / `.12`), the v2 API.
 *
 * `alpha`/`beta` are host scalars (the default `CUBLAS_POINTER_MODE_HOST`), passed as one-element
 * `Float32Array`s. Every function returns a `cublasStatus_t` (0 = success).
 * @module
 */

import { fn } from "../../ffi.ts";

/** `cublasOperation_t`. */
export const CublasOp = { N: 0, T: 1 } as const;

/** `cublasMath_t`: default (FP32) or TF32 tensor-core math. */
export const CublasMath = { default: 0, tf32TensorOp: 3 } as const;

/** `cublasComputeType_t` for `cublasGemmEx`. */
export const CublasCompute = { f32: 68, f32FastTf32: 77 } as const;

/** `cudaDataType_t` float32. */
export const CUDA_R_32F = 0;

/** `CUBLAS_GEMM_DEFAULT`. */
export const CUBLAS_GEMM_DEFAULT = -1;

/** Names of `cublasStatus_t` codes, for error messages. */
export const CUBLAS_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: "CUBLAS_STATUS_SUCCESS",
  1: "CUBLAS_STATUS_NOT_INITIALIZED",
  3: "CUBLAS_STATUS_ALLOC_FAILED",
  7: "CUBLAS_STATUS_INVALID_VALUE",
  8: "CUBLAS_STATUS_ARCH_MISMATCH",
  11: "CUBLAS_STATUS_MAPPING_ERROR",
  13: "CUBLAS_STATUS_EXECUTION_FAILED",
  14: "CUBLAS_STATUS_INTERNAL_ERROR",
  15: "CUBLAS_STATUS_NOT_SUPPORTED",
  16: "CUBLAS_STATUS_LICENSE_ERROR",
};

/** The cuBLAS functions the CUDA backend binds. */
export const CUBLAS_SYMBOLS = {
  cublasCreate_v2: fn("b"),
  cublasDestroy_v2: fn("p"),
  cublasSetStream_v2: fn("pp"),
  cublasSetMathMode: fn("pi"),
  // (handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc), column-major.
  cublasSgemm_v2: fn("piiiiibpipibpi"),
  // (handle, transa, transb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype,
  //  ldc, computeType, algo).
  cublasGemmEx: fn("piiiiibpiipiibpiiii"),
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound cuBLAS functions. */
export type Cublas = Deno.DynamicLibrary<typeof CUBLAS_SYMBOLS>["symbols"];
