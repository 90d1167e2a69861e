/**
 * What a failing rank does: print its message once, prefixed with its rank, and take the
 * whole job down (`MPI_Abort`), so no other rank waits forever in a collective and the
 * launcher (`mpirun`, `srun`) exits non-zero for every rank.
 * @module
 */

import type { Communicator } from "./communicator.ts";
import { flag } from "../util/settings.ts";

/** `error: …` in one process, `rank 3/8: error: …` in a group. */
export function rankErrorLine(comm: Pick<Communicator, "rank" | "size">, message: string): string {
  const first = message.split("\n")[0];
  return comm.size > 1 ? `rank ${comm.rank}/${comm.size}: error: ${first}` : `error: ${first}`;
}

/**
 * How long a failing rank waits between printing its message and `MPI_Abort`: the launcher
 * relays a rank's stderr through a pipe it reads in its own time, and an abort processed
 * before that read ends the job without the message (MPICH's Hydra lost it in 1 run of 30
 * here, with nothing at all on stderr). Half a second on a path that ends the job anyway.
 */
export const ABORT_RELAY_MS = 500;

/**
 * Reports `error` on stderr and ends the job with `exitCode`: `MPI_Abort` in a group (every
 * rank ends, {@linkcode ABORT_RELAY_MS} after the message), `Deno.exit` in one process.
 *
 * @example
 * ```ts
 * import { failRank, initDistributed } from "@facgcnn/toolkit";
 * const comm = initDistributed();
 * try {
 *   // ... training ...
 * } catch (e) {
 *   failRank(comm, e);
 * }
 * ```
 */
export function failRank(comm: Communicator, error: unknown, exitCode = 1): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(rankErrorLine(comm, message));
  const debug = flag("debug");
  if (debug && error instanceof Error) console.error(error.stack);
  if (comm.size > 1) {
    // A synchronous wait (the caller may be deep in synchronous code, and this never returns).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ABORT_RELAY_MS);
    comm.abort(exitCode);
  }
  Deno.exit(exitCode);
}
