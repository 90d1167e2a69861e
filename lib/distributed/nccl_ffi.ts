/**
 * The NCCL functions the data-parallel trainer calls on GPUs (`libnccl.so.2`), as a
 * `Deno.dlopen` table with the C declarations of `nccl.h` (NCCL 2.x).
 * @module
 */

/** `#define NCCL_UNIQUE_ID_BYTES 128`: `typedef struct { char internal[128]; } ncclUniqueId;` */
export const NCCL_UNIQUE_ID_BYTES = 128;

/** `ncclUniqueId` passed by value (the System V ABI passes a 128-byte struct in memory). */
const UNIQUE_ID_BY_VALUE = {
  struct: new Array<"u8">(NCCL_UNIQUE_ID_BYTES).fill("u8"),
} as const satisfies Deno.NativeStructType;

/** The table. `ncclResult_t` is an `enum` (`int`), `ncclComm_t` a pointer. */
export const NCCL_SYMBOLS = {
  // ncclResult_t ncclGetVersion(int *version);
  ncclGetVersion: { parameters: ["buffer"], result: "i32" },
  // ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
  ncclGetUniqueId: { parameters: ["buffer"], result: "i32" },
  // ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
  ncclCommInitRank: { parameters: ["buffer", "i32", UNIQUE_ID_BY_VALUE, "i32"], result: "i32" },
  // ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
  //   ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
  ncclAllReduce: {
    parameters: ["pointer", "pointer", "usize", "i32", "i32", "pointer", "pointer"],
    result: "i32",
  },
  // ncclResult_t ncclCommDestroy(ncclComm_t comm);
  ncclCommDestroy: { parameters: ["pointer"], result: "i32" },
  // ncclResult_t ncclCommAbort(ncclComm_t comm);
  ncclCommAbort: { parameters: ["pointer"], result: "i32" },
  // const char *ncclGetErrorString(ncclResult_t result);
  ncclGetErrorString: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `ncclDataType_t` values used here. */
export const NcclDataType = {
  /** `ncclFloat32 = 7` */
  float32: 7,
  /** `ncclFloat64 = 8` */
  float64: 8,
} as const;

/** `ncclRedOp_t`: `ncclSum = 0`. */
export const NCCL_SUM = 0;

/** `ncclSuccess = 0`. */
export const NCCL_SUCCESS = 0;

/** An opened NCCL. */
export type NcclLibrary = Deno.DynamicLibrary<typeof NCCL_SYMBOLS>;
