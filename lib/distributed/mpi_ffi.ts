/**
 * The MPI functions the data-parallel trainer calls, as `Deno.dlopen` tables, for the two
 * ABIs found on Linux clusters. The C declarations are the MPI standard's; the handle types
 * are where the ABIs differ:
 *
 * - **Open MPI** (`libmpi.so.40`): `MPI_Comm`, `MPI_Datatype` and `MPI_Op` are pointers to
 *   structs, and the predefined handles are the addresses of exported globals
 *   (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, `MPI_FLOAT` is `&ompi_mpi_float`, `MPI_SUM`
 *   is `&ompi_mpi_op_sum`); `MPI_IN_PLACE` is `(void *) 1`.
 * - **MPICH** and its derivatives (Intel MPI, MVAPICH, Cray MPICH; `libmpich.so.12`,
 *   `libmpi.so.12`): the handles are `int` constants from `mpi.h`; `MPI_IN_PLACE` is
 *   `(void *) -1`.
 * @module
 */

/** Functions with the same C signature in both ABIs apart from the handle types. */
const COMMON = {
  // int MPI_Init(int *argc, char ***argv);   (NULL, NULL is allowed since MPI-2)
  MPI_Init: { parameters: ["pointer", "pointer"], result: "i32" },
  // int MPI_Initialized(int *flag);
  MPI_Initialized: { parameters: ["buffer"], result: "i32" },
  // int MPI_Finalized(int *flag);
  MPI_Finalized: { parameters: ["buffer"], result: "i32" },
  // int MPI_Finalize(void);
  MPI_Finalize: { parameters: [], result: "i32" },
  // int MPI_Get_library_version(char *version, int *resultlen);
  MPI_Get_library_version: { parameters: ["buffer", "buffer"], result: "i32" },
  // int MPI_Error_string(int errorcode, char *string, int *resultlen);
  MPI_Error_string: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  // double MPI_Wtime(void);
  MPI_Wtime: { parameters: [], result: "f64" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Open MPI: handles are pointers (`struct ompi_communicator_t *` etc.). */
export const OPEN_MPI_SYMBOLS = {
  ...COMMON,
  // int MPI_Comm_rank(MPI_Comm comm, int *rank);
  MPI_Comm_rank: { parameters: ["pointer", "buffer"], result: "i32" },
  // int MPI_Comm_size(MPI_Comm comm, int *size);
  MPI_Comm_size: { parameters: ["pointer", "buffer"], result: "i32" },
  // int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
  //                   MPI_Op op, MPI_Comm comm);
  MPI_Allreduce: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  // int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm);
  MPI_Bcast: { parameters: ["buffer", "i32", "pointer", "i32", "pointer"], result: "i32" },
  // int MPI_Barrier(MPI_Comm comm);
  MPI_Barrier: { parameters: ["pointer"], result: "i32" },
  // int MPI_Abort(MPI_Comm comm, int errorcode);
  MPI_Abort: { parameters: ["pointer", "i32"], result: "i32" },
  // The predefined handles: `static` symbols give their addresses.
  // struct ompi_predefined_communicator_t ompi_mpi_comm_world;
  ompi_mpi_comm_world: { type: "pointer" },
  // struct ompi_predefined_datatype_t ompi_mpi_float, ompi_mpi_double, ompi_mpi_byte;
  ompi_mpi_float: { type: "pointer" },
  ompi_mpi_double: { type: "pointer" },
  ompi_mpi_byte: { type: "pointer" },
  // struct ompi_predefined_op_t ompi_mpi_op_sum, ompi_mpi_op_max;
  ompi_mpi_op_sum: { type: "pointer" },
  ompi_mpi_op_max: { type: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** MPICH ABI: handles are `int`. */
export const MPICH_SYMBOLS = {
  ...COMMON,
  // int MPI_Comm_rank(MPI_Comm comm, int *rank);
  MPI_Comm_rank: { parameters: ["i32", "buffer"], result: "i32" },
  // int MPI_Comm_size(MPI_Comm comm, int *size);
  MPI_Comm_size: { parameters: ["i32", "buffer"], result: "i32" },
  // int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
  //                   MPI_Op op, MPI_Comm comm);
  MPI_Allreduce: { parameters: ["pointer", "buffer", "i32", "i32", "i32", "i32"], result: "i32" },
  // int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm);
  MPI_Bcast: { parameters: ["buffer", "i32", "i32", "i32", "i32"], result: "i32" },
  // int MPI_Barrier(MPI_Comm comm);
  MPI_Barrier: { parameters: ["i32"], result: "i32" },
  // int MPI_Abort(MPI_Comm comm, int errorcode);
  MPI_Abort: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** MPICH's `mpi.h` constants (the same in MPICH 3.x and 4.x, Intel MPI, MVAPICH). */
export const MPICH_CONSTANTS = {
  /** `#define MPI_COMM_WORLD ((MPI_Comm)0x44000000)` */
  MPI_COMM_WORLD: 0x44000000,
  /** `#define MPI_FLOAT ((MPI_Datatype)0x4c00040a)` */
  MPI_FLOAT: 0x4c00040a,
  /** `#define MPI_DOUBLE ((MPI_Datatype)0x4c00080b)` */
  MPI_DOUBLE: 0x4c00080b,
  /** `#define MPI_BYTE ((MPI_Datatype)0x4c00010d)` */
  MPI_BYTE: 0x4c00010d,
  /** `#define MPI_SUM (MPI_Op)(0x58000003)` */
  MPI_SUM: 0x58000003,
  /** `#define MPI_MAX (MPI_Op)(0x58000001)` */
  MPI_MAX: 0x58000001,
  /** `#define MPI_IN_PLACE (void *) -1` */
  MPI_IN_PLACE: -1n,
} as const;

/** Open MPI's `#define MPI_IN_PLACE ((void *) 1)`. */
export const OPEN_MPI_IN_PLACE = 1n;

/** `MPI_SUCCESS`, 0 in every implementation. */
export const MPI_SUCCESS = 0;

/** Longest `MPI_Get_library_version` string of either ABI (MPICH: 8192, Open MPI: 256). */
export const MAX_LIBRARY_VERSION_STRING = 8192;

/** Longest `MPI_Error_string` text of either ABI (MPICH: 512, Open MPI: 256). */
export const MAX_ERROR_STRING = 512;

/** An opened Open MPI library. */
export type OpenMpiLibrary = Deno.DynamicLibrary<typeof OPEN_MPI_SYMBOLS>;
/** An opened MPICH-ABI library. */
export type MpichLibrary = Deno.DynamicLibrary<typeof MPICH_SYMBOLS>;
