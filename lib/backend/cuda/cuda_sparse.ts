/**
 * cuSPARSE SpMM (CSR × row-major dense) for the CUDA backend: aggregation as a sparse product,
 * the alternative to the helper's scatter kernels where it measures faster.
 * @module
 */

import {
  type Cusparse,
  CUSPARSE_INDEX_32I,
  CUSPARSE_INDEX_BASE_ZERO,
  CUSPARSE_OPERATION_NON_TRANSPOSE,
  CUSPARSE_ORDER_ROW,
  CUSPARSE_STATUS_NAMES,
  CusparseSpMMAlg,
} from "./ffi/cusparse.ts";
import { CUDA_R_32F } from "./ffi/cublas.ts";

/** A cuSPARSE handle bound to the backend's stream. */
export class CudaSparse {
  readonly #lib: Cusparse;
  readonly #handle: Deno.PointerValue;
  readonly #workspace: (floats: number) => Deno.PointerValue;
  readonly #alpha = new Float32Array([1]);
  readonly #beta = new Float32Array(1);
  readonly #out = new BigUint64Array(1);

  /** Creates the handle; `workspace` returns device scratch of at least that many floats. */
  constructor(
    lib: Cusparse,
    stream: Deno.PointerValue,
    workspace: (floats: number) => Deno.PointerValue,
  ) {
    this.#lib = lib;
    this.#workspace = workspace;
    this.#check("cusparseCreate", lib.cusparseCreate(this.#out));
    this.#handle = Deno.UnsafePointer.create(this.#out[0]);
    this.#check("cusparseSetStream", lib.cusparseSetStream(this.#handle, stream));
  }

  /** `C[m,n] = A[m,k] B[k,n] + beta C` (A: CSR with `nnz` entries; B, C row-major, ld = n). */
  spmm(
    rowOffsets: Deno.PointerValue,
    colIndices: Deno.PointerValue,
    values: Deno.PointerValue,
    nnz: number,
    m: number,
    k: number,
    b: Deno.PointerValue,
    c: Deno.PointerValue,
    n: number,
    beta: number,
  ): void {
    const lib = this.#lib, out = this.#out;
    const i = (x: number) => BigInt(x);
    // Every descriptor created is destroyed, also when a later create or the SpMM fails.
    const created: [Deno.PointerValue, "sp" | "dn"][] = [];
    const keep = (kind: "sp" | "dn") => {
      const p = Deno.UnsafePointer.create(out[0]);
      created.push([p, kind]);
      return p;
    };
    try {
      this.#check(
        "cusparseCreateCsr",
        lib.cusparseCreateCsr(
          out,
          ...[i(m), i(k), i(nnz), rowOffsets, colIndices, values] as const,
          ...[
            CUSPARSE_INDEX_32I,
            CUSPARSE_INDEX_32I,
            CUSPARSE_INDEX_BASE_ZERO,
            CUDA_R_32F,
          ] as const,
        ),
      );
      const matA = keep("sp");
      const dense = (rows: number, p: Deno.PointerValue) => {
        this.#check(
          "cusparseCreateDnMat",
          lib.cusparseCreateDnMat(out, i(rows), i(n), i(n), p, CUDA_R_32F, CUSPARSE_ORDER_ROW),
        );
        return keep("dn");
      };
      const matB = dense(k, b), matC = dense(m, c);
      this.#beta[0] = beta;
      const op = CUSPARSE_OPERATION_NON_TRANSPOSE, alg = CusparseSpMMAlg.default;
      const size = new BigUint64Array(1);
      const args = [this.#handle, op, op, this.#alpha, matA, matB, this.#beta, matC] as const;
      this.#check(
        "cusparseSpMM_bufferSize",
        lib.cusparseSpMM_bufferSize(...args, CUDA_R_32F, alg, size),
      );
      const buffer = this.#workspace(Math.ceil(Number(size[0]) / 4));
      this.#check("cusparseSpMM", lib.cusparseSpMM(...args, CUDA_R_32F, alg, buffer));
    } finally {
      for (const [p, kind] of created.reverse()) {
        if (kind === "sp") lib.cusparseDestroySpMat(p);
        else lib.cusparseDestroyDnMat(p);
      }
    }
  }

  /** Destroys the handle. */
  dispose(): void {
    this.#lib.cusparseDestroy(this.#handle);
  }

  #check(op: string, status: number): void {
    if (status !== 0) {
      throw new Error(
        `CUDA ${op}: ${CUSPARSE_STATUS_NAMES[status] ?? "cusparseStatus"} (${status})`,
      );
    }
  }
}
