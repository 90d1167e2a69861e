/**
 * The process group of a data-parallel run: rank, size and the few collectives training
 * needs (in-place sum all-reduce of float32/float64 buffers, broadcast, barrier, abort),
 * through MPI when the process was launched by `mpirun`/`srun`, or a one-process group
 * otherwise.
 * @module
 */

import { detectLaunch, type EnvGetter, type LaunchInfo } from "./environment.ts";
import { type MpiLibrary, openMpiLibrary } from "./library.ts";
import {
  MAX_ERROR_STRING,
  MAX_LIBRARY_VERSION_STRING,
  MPI_SUCCESS,
  MPICH_CONSTANTS,
  OPEN_MPI_IN_PLACE,
} from "./mpi_ffi.ts";

/**
 * A group of processes training one model.
 *
 * @example
 * ```ts
 * import { initDistributed } from "@facgcnn/toolkit";
 * const comm = initDistributed(); // MPI under mpirun, else one process
 * const g = new Float32Array([comm.rank + 1]);
 * comm.allreduceSum(g); // every rank now holds 1 + 2 + … + size
 * comm.finalize();
 * ```
 */
export interface Communicator {
  /** This process's rank, 0-based. */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** e.g. "Open MPI v4.1.4 (libmpi.so.40), 2 processes" or "one process". */
  readonly description: string;
  /** Sums `buf` over all ranks, in place (`MPI_Allreduce` with `MPI_IN_PLACE`, `MPI_SUM`). */
  allreduceSum(buf: Float32Array | Float64Array): void;
  /** Copies `buf` of rank `root` into every rank's `buf` (same length everywhere). */
  broadcast(buf: Uint8Array, root?: number): void;
  /** Waits until every rank has reached it. */
  barrier(): void;
  /** Ends every process of the job with `code` (`MPI_Abort`); never returns. */
  abort(code: number): never;
  /** Ends MPI (`MPI_Finalize`); idempotent. Collectives are invalid afterwards. */
  finalize(): void;
}

/**
 * The group of one process: collectives are identities.
 *
 * @example
 * ```ts
 * import { LocalCommunicator } from "@facgcnn/toolkit";
 * const comm = new LocalCommunicator();
 * const g = new Float32Array([1, 2]);
 * comm.allreduceSum(g); // unchanged: one process
 * ```
 */
export class LocalCommunicator implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  readonly description = "one process";
  allreduceSum(_buf: Float32Array | Float64Array): void {}
  broadcast(_buf: Uint8Array, _root = 0): void {}
  barrier(): void {}
  abort(code: number): never {
    Deno.exit(code);
  }
  finalize(): void {}
}

/** `MPI_Allreduce`'s count is an `int`: larger buffers go in pieces. */
const MAX_COUNT = 0x7fffffff;

/** An MPI communicator over `MPI_COMM_WORLD`, for either ABI. */
export class MpiCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly description: string;
  /** The library and its ABI. */
  readonly library: MpiLibrary;
  /** `MPI_Get_library_version`'s first line. */
  readonly version: string;
  #finalized = false;
  #allreduce: (buf: Float32Array | Float64Array, count: number) => number;
  #bcast: (buf: Uint8Array, count: number, root: number) => number;
  #barrier: () => number;
  #abort: (code: number) => number;
  #rankSize: () => [number, number];

  /** Initialises MPI (unless already initialised) on `library`. */
  constructor(library: MpiLibrary) {
    this.library = library;
    const s = library.lib.symbols;
    const flag = new Int32Array(1);
    this.#check(s.MPI_Initialized(flag), "MPI_Initialized");
    if (flag[0] === 0) this.#check(s.MPI_Init(null, null), "MPI_Init");
    if (library.abi === "openmpi") {
      const o = library.lib.symbols;
      const world = o.ompi_mpi_comm_world, sum = o.ompi_mpi_op_sum;
      const f32 = o.ompi_mpi_float, f64 = o.ompi_mpi_double, byte = o.ompi_mpi_byte;
      const inPlace = Deno.UnsafePointer.create(OPEN_MPI_IN_PLACE);
      this.#allreduce = (buf, n) =>
        o.MPI_Allreduce(inPlace, buf, n, buf instanceof Float32Array ? f32 : f64, sum, world);
      this.#bcast = (buf, n, root) => o.MPI_Bcast(buf, n, byte, root, world);
      this.#barrier = () => o.MPI_Barrier(world);
      this.#abort = (code) => o.MPI_Abort(world, code);
      this.#rankSize = () => {
        const r = new Int32Array(1), z = new Int32Array(1);
        this.#check(o.MPI_Comm_rank(world, r), "MPI_Comm_rank");
        this.#check(o.MPI_Comm_size(world, z), "MPI_Comm_size");
        return [r[0], z[0]];
      };
    } else {
      const m = library.lib.symbols;
      const c = MPICH_CONSTANTS, world = c.MPI_COMM_WORLD;
      const inPlace = Deno.UnsafePointer.create(BigInt.asUintN(64, c.MPI_IN_PLACE));
      this.#allreduce = (buf, n) =>
        m.MPI_Allreduce(
          inPlace,
          buf,
          n,
          buf instanceof Float32Array ? c.MPI_FLOAT : c.MPI_DOUBLE,
          c.MPI_SUM,
          world,
        );
      this.#bcast = (buf, n, root) => m.MPI_Bcast(buf, n, c.MPI_BYTE, root, world);
      this.#barrier = () => m.MPI_Barrier(world);
      this.#abort = (code) => m.MPI_Abort(world, code);
      this.#rankSize = () => {
        const r = new Int32Array(1), z = new Int32Array(1);
        this.#check(m.MPI_Comm_rank(world, r), "MPI_Comm_rank");
        this.#check(m.MPI_Comm_size(world, z), "MPI_Comm_size");
        return [r[0], z[0]];
      };
    }
    [this.rank, this.size] = this.#rankSize();
    this.version = libraryVersion(library);
    const name = library.path.split("/").pop();
    this.description = `${this.version} (${name}), ${this.size} processes`;
  }

  #check(rc: number, what: string): void {
    if (rc === MPI_SUCCESS) return;
    const text = new Uint8Array(MAX_ERROR_STRING), len = new Int32Array(1);
    let message = `error ${rc}`;
    if (this.library.lib.symbols.MPI_Error_string(rc, text, len) === MPI_SUCCESS) {
      message = new TextDecoder().decode(text.subarray(0, len[0]));
    }
    throw new Error(`${what} failed: ${message}`);
  }

  #live(what: string): void {
    if (this.#finalized) throw new Error(`${what} after MPI_Finalize`);
  }

  allreduceSum(buf: Float32Array | Float64Array): void {
    this.#live("allreduceSum");
    for (let start = 0; start < buf.length; start += MAX_COUNT) {
      const part = buf.subarray(start, Math.min(buf.length, start + MAX_COUNT));
      this.#check(this.#allreduce(part, part.length), "MPI_Allreduce");
    }
  }

  broadcast(buf: Uint8Array, root = 0): void {
    this.#live("broadcast");
    for (let start = 0; start < buf.length; start += MAX_COUNT) {
      const part = buf.subarray(start, Math.min(buf.length, start + MAX_COUNT));
      this.#check(this.#bcast(part, part.length, root), "MPI_Bcast");
    }
  }

  barrier(): void {
    this.#live("barrier");
    this.#check(this.#barrier(), "MPI_Barrier");
  }

  abort(code: number): never {
    this.#abort(code);
    Deno.exit(code); // MPI_Abort does not return; this is for the type checker
  }

  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    const flag = new Int32Array(1);
    this.library.lib.symbols.MPI_Finalized(flag);
    if (flag[0] === 0) this.#check(this.library.lib.symbols.MPI_Finalize(), "MPI_Finalize");
  }
}

function libraryVersion(library: MpiLibrary): string {
  const text = new Uint8Array(MAX_LIBRARY_VERSION_STRING), len = new Int32Array(1);
  if (library.lib.symbols.MPI_Get_library_version(text, len) !== MPI_SUCCESS) {
    return library.abi === "openmpi" ? "Open MPI" : "MPICH";
  }
  // "Open MPI v4.1.4, package: …" / "MPICH Version:\t4.0.2\nMPICH Release date: …"
  const s = new TextDecoder().decode(text.subarray(0, len[0])).trim();
  return s.split(/[\n,]/)[0].replace(/Version:\s*/, "").replace(/\s+/g, " ").trim();
}

/**
 * Options of {@link initDistributed}.
 *
 * @example
 * ```ts
 * import { type DistributedOptions, initDistributed } from "@facgcnn/toolkit";
 * const options: DistributedOptions = { library: "/usr/lib/x86_64-linux-gnu/libmpich.so.12" };
 * const comm = initDistributed(options);
 * ```
 */
export interface DistributedOptions {
  /** MPI library path (default: `FACGCNN_MPI`, else by launcher). */
  library?: string;
  /** Environment to read the launcher's variables from (tests). */
  env?: EnvGetter;
}

let current: Communicator | null = null;

/**
 * The process group of this process, created once: MPI when launched by an MPI launcher
 * (see {@link detectLaunch}), else {@link LocalCommunicator}. MPI is finalised when the
 * process ends normally. Throws when the MPI library does not agree with the launcher (e.g.
 * an MPICH library under Open MPI's `mpirun` initialises as a one-process singleton).
 *
 * @example
 * ```ts
 * import { initDistributed } from "@facgcnn/toolkit";
 * const comm = initDistributed();
 * if (comm.rank === 0) console.log(comm.description);
 * ```
 */
export function initDistributed(options: DistributedOptions = {}): Communicator {
  if (current !== null) return current;
  const launch: LaunchInfo | null = detectLaunch(options.env);
  if (launch === null) return current = new LocalCommunicator();
  const library = openMpiLibrary(launch.launcher, options.library);
  const comm = new MpiCommunicator(library);
  if (comm.size !== launch.size || comm.rank !== launch.rank) {
    comm.finalize();
    throw new Error(
      `the launcher says rank ${launch.rank} of ${launch.size} (${launch.source}) but ` +
        `${library.path} (${comm.version}) says rank ${comm.rank} of ${comm.size}: the MPI ` +
        `library does not belong to the mpirun that started this job; set FACGCNN_MPI to its libmpi`,
    );
  }
  globalThis.addEventListener("unload", () => comm.finalize());
  return current = comm;
}
