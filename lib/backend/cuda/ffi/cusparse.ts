/**
 * Typed symbol table for cuSPARSE's generic API (`libcusparse.so.12` / `.13`): CSR × dense
 * (SpMM), the alternative to the helper's scatter kernels for aggregation. Descriptors are
 * opaque pointers returned through one-element `BigUint64Array`s; sizes are `i64`.
 * Every function returns a `cusparseStatus_t` (0 = success).
 * @module
 */

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

/** The cuSPARSE functions the CUDA backend binds. */
export const CUSPARSE_SYMBOLS = {
  cusparseCreate: { parameters: ["buffer"], result: "i32" },
  cusparseDestroy: { parameters: ["pointer"], result: "i32" },
  cusparseSetStream: { parameters: ["pointer", "pointer"], result: "i32" },
  // (out descr*, rows, cols, nnz, rowOffsets, colInd, values, offType, indType, base, valueType)
  cusparseCreateCsr: {
    parameters: [
      "buffer",
      "i64",
      "i64",
      "i64",
      "pointer",
      "pointer",
      "pointer",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  // (out descr*, rows, cols, ld, values, valueType, order)
  cusparseCreateDnMat: {
    parameters: ["buffer", "i64", "i64", "i64", "pointer", "i32", "i32"],
    result: "i32",
  },
  cusparseDestroySpMat: { parameters: ["pointer"], result: "i32" },
  cusparseDestroyDnMat: { parameters: ["pointer"], result: "i32" },
  // (handle, opA, opB, alpha*, A, B, beta*, C, computeType, alg, size_t* bufferSize)
  cusparseSpMM_bufferSize: {
    parameters: [
      "pointer",
      "i32",
      "i32",
      "buffer",
      "pointer",
      "pointer",
      "buffer",
      "pointer",
      "i32",
      "i32",
      "buffer",
    ],
    result: "i32",
  },
  // (handle, opA, opB, alpha*, A, B, beta*, C, computeType, alg, externalBuffer)
  cusparseSpMM: {
    parameters: [
      "pointer",
      "i32",
      "i32",
      "buffer",
      "pointer",
      "pointer",
      "buffer",
      "pointer",
      "i32",
      "i32",
      "pointer",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound cuSPARSE functions. */
export type Cusparse = Deno.DynamicLibrary<typeof CUSPARSE_SYMBOLS>["symbols"];
