/**
 * Typed symbol table for cuSPARSE's generic API (`libcusparse.so.12` / `.13`): CSR × dense
 * (SpMM), the alternative to the helper's scatter kernels for aggregation. Descriptors are
 * opaque pointers returned through one-element `BigUint64Array`s; sizes are `i64`.
 * Every function returns a `cusparseStatus_t` (0 = success).
 * @module
 */

import { fn } from "../../ffi.ts";

/** `cusparseIndexType_t` 32-bit indices. */
export const CUSPARSE_INDEX_32I = 2;
/** `cusparseIndexBase_t` zero-based. */
export const CUSPARSE_INDEX_BASE_ZERO = 0;
/** `cusparseOrder_t` row-major dense matrices. */
export const CUSPARSE_ORDER_ROW = 2;
/** `cusparseOperation_t` no transpose. */
export const CUSPARSE_OPERATION_NON_TRANSPOSE = 0;
/** `cusparseSpMMAlg_t` values. */
export const CusparseSpMMAlg = { default: 0, csrAlg1: 4, csrAlg2: 6, csrAlg3: 12 } as const;

/** Names of `cusparseStatus_t` codes (cusparse.h), for error messages. */
export const CUSPARSE_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: "CUSPARSE_STATUS_SUCCESS",
  1: "CUSPARSE_STATUS_NOT_INITIALIZED",
  2: "CUSPARSE_STATUS_ALLOC_FAILED",
  3: "CUSPARSE_STATUS_INVALID_VALUE",
  4: "CUSPARSE_STATUS_ARCH_MISMATCH",
  5: "CUSPARSE_STATUS_MAPPING_ERROR",
  6: "CUSPARSE_STATUS_EXECUTION_FAILED",
  7: "CUSPARSE_STATUS_INTERNAL_ERROR",
  8: "CUSPARSE_STATUS_MATRIX_TYPE_NOT_SUPPORTED",
  9: "CUSPARSE_STATUS_ZERO_PIVOT",
  10: "CUSPARSE_STATUS_NOT_SUPPORTED",
  11: "CUSPARSE_STATUS_INSUFFICIENT_RESOURCES",
};

/** The cuSPARSE functions the CUDA backend binds. */
export const CUSPARSE_SYMBOLS = {
  cusparseCreate: fn("b"),
  cusparseDestroy: fn("p"),
  cusparseSetStream: fn("pp"),
  // (out descr*, rows, cols, nnz, rowOffsets, colInd, values, offType, indType, base, valueType)
  cusparseCreateCsr: fn("blllpppiiii"),
  // (out descr*, rows, cols, ld, values, valueType, order)
  cusparseCreateDnMat: fn("blllpii"),
  cusparseDestroySpMat: fn("p"),
  cusparseDestroyDnMat: fn("p"),
  // (handle, opA, opB, alpha*, A, B, beta*, C, computeType, alg, size_t* bufferSize)
  cusparseSpMM_bufferSize: fn("piibppbpiib"),
  // (handle, opA, opB, alpha*, A, B, beta*, C, computeType, alg, externalBuffer)
  cusparseSpMM: fn("piibppbpiip"),
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound cuSPARSE functions. */
export type Cusparse = Deno.DynamicLibrary<typeof CUSPARSE_SYMBOLS>["symbols"];
