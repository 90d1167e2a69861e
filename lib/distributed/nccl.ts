/**
 * NCCL on top of an MPI group: rank 0 creates the unique id (`ncclGetUniqueId`), MPI
 * broadcasts its 128 bytes, every rank joins with `ncclCommInitRank`, and gradients are summed
 * in place on the device with `ncclAllReduce` on the backend's compute stream (so the
 * reduction is ordered after the backward kernels without a host synchronisation).
 * @module
 */

import type { Communicator } from "./communicator.ts";
import { cudaFolders, type LibrarySpec, openLibrary } from "../backend/cuda/loader.ts";
import {
  NCCL_SUCCESS,
  NCCL_SUM,
  NCCL_SYMBOLS,
  NCCL_UNIQUE_ID_BYTES,
  NcclDataType,
  type NcclLibrary,
} from "./nccl_ffi.ts";

/** Where NCCL is looked for: `FACGCNN_NCCL`, the CUDA folders, the `nvidia-nccl-cu12/13` wheels. */
export const NCCL_SPEC: LibrarySpec = {
  name: "libnccl",
  override: "nccl",
  sonames: ["libnccl.so.2", "libnccl.so"],
  folders: cudaFolders(["nccl/lib", "cuda_runtime/lib", "cu13/lib", "cu12/lib"]),
};

/** The NCCL calls the rank logic makes, so it can run against a stand-in without a GPU. */
export interface NcclApi {
  /** `ncclGetUniqueId` → 128 bytes. */
  uniqueId(): Uint8Array;
  /** `ncclCommInitRank(&comm, nranks, id, rank)` → the communicator handle. */
  initRank(nranks: number, id: Uint8Array, rank: number): Deno.PointerValue;
  /** `ncclAllReduce(buf, buf, count, float32|float64, ncclSum, comm, stream)`. */
  allReduceSum(
    devicePtr: Deno.PointerValue,
    count: number,
    dtype: "float32" | "float64",
    comm: Deno.PointerValue,
    stream: Deno.PointerValue,
  ): void;
  /** `ncclCommDestroy` (or `ncclCommAbort` when `abort`). */
  destroy(comm: Deno.PointerValue, abort: boolean): void;
  /** e.g. "NCCL 2.21.5 (libnccl.so.2)". */
  readonly description: string;
}

function ncclVersion(code: number): string {
  // NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z before 2.9, X*10000+Y*100+Z since.
  const major = code >= 10000 ? Math.floor(code / 10000) : Math.floor(code / 1000);
  const rest = code >= 10000 ? code % 10000 : code % 1000;
  return `${major}.${Math.floor(rest / 100)}.${rest % 100}`;
}

/** The real NCCL through FFI (throws naming every path tried when it is missing). */
export function openNccl(): NcclApi {
  const { lib, path } = openLibrary(NCCL_SPEC, NCCL_SYMBOLS);
  return ncclApi(lib, path);
}

function ncclApi(lib: NcclLibrary, path: string): NcclApi {
  const s = lib.symbols;
  const check = (rc: number, what: string) => {
    if (rc === NCCL_SUCCESS) return;
    const p = s.ncclGetErrorString(rc);
    const text = p === null ? `error ${rc}` : new Deno.UnsafePointerView(p).getCString();
    throw new Error(`${what} failed: ${text} (ncclResult_t ${rc})`);
  };
  const v = new Int32Array(1);
  check(s.ncclGetVersion(v), "ncclGetVersion");
  return {
    description: `NCCL ${ncclVersion(v[0])} (${path.split("/").pop()})`,
    uniqueId() {
      const id = new Uint8Array(NCCL_UNIQUE_ID_BYTES);
      check(s.ncclGetUniqueId(id), "ncclGetUniqueId");
      return id;
    },
    initRank(nranks, id, rank) {
      const out = new BigUint64Array(1);
      check(s.ncclCommInitRank(out, nranks, id, rank), "ncclCommInitRank");
      return Deno.UnsafePointer.create(out[0]);
    },
    allReduceSum(ptr, count, dtype, comm, stream) {
      check(
        s.ncclAllReduce(ptr, ptr, BigInt(count), NcclDataType[dtype], NCCL_SUM, comm, stream),
        "ncclAllReduce",
      );
    },
    destroy(comm, abort) {
      check(abort ? s.ncclCommAbort(comm) : s.ncclCommDestroy(comm), "ncclCommDestroy");
    },
  };
}

/**
 * A NCCL communicator spanning the ranks of `mpi`, one GPU per rank.
 *
 * @example
 * ```ts
 * import { initDistributed } from "@facgcnn/toolkit";
 * import { NcclCommunicator, openNccl } from "./nccl.ts";
 * const mpi = initDistributed();
 * const nccl = NcclCommunicator.create(mpi, openNccl()); // collective: every rank calls it
 * ```
 */
export class NcclCommunicator {
  /** The MPI group it was created over. */
  readonly mpi: Communicator;
  /** The NCCL calls. */
  readonly api: NcclApi;
  /** The `ncclComm_t`. */
  readonly handle: Deno.PointerValue;
  /** The unique id every rank joined with (equal on all ranks). */
  readonly uniqueId: Uint8Array;
  #destroyed = false;

  private constructor(mpi: Communicator, api: NcclApi, handle: Deno.PointerValue, id: Uint8Array) {
    this.mpi = mpi;
    this.api = api;
    this.handle = handle;
    this.uniqueId = id;
  }

  /**
   * Collective over `mpi`: rank 0 draws the unique id, `MPI_Bcast` sends it to every rank,
   * each joins with its MPI rank and size. The CUDA device must be selected before (one per
   * rank: the trainer uses the node-local rank).
   */
  static create(mpi: Communicator, api: NcclApi): NcclCommunicator {
    const id = mpi.rank === 0 ? api.uniqueId() : new Uint8Array(NCCL_UNIQUE_ID_BYTES);
    if (id.length !== NCCL_UNIQUE_ID_BYTES) {
      throw new RangeError(`ncclUniqueId must be ${NCCL_UNIQUE_ID_BYTES} bytes, got ${id.length}`);
    }
    mpi.broadcast(id, 0);
    const handle = api.initRank(mpi.size, id, mpi.rank);
    return new NcclCommunicator(mpi, api, handle, id);
  }

  /** Sums `count` float32 values at `devicePtr` over all ranks, in place, on `stream`. */
  allreduceSumDevice(devicePtr: Deno.PointerValue, count: number, stream: Deno.PointerValue): void {
    if (this.#destroyed) throw new Error("NCCL communicator used after destroy");
    this.api.allReduceSum(devicePtr, count, "float32", this.handle, stream);
  }

  /** Frees the communicator (`ncclCommAbort` when `abort`, e.g. on an error). */
  destroy(abort = false): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.api.destroy(this.handle, abort);
  }
}
