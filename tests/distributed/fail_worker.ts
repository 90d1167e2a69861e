/**
 * Run under `mpirun -np 2`: rank 1 fails after one collective while rank 0 waits in a
 * barrier; the job must end (not hang) with rank 1's message and a non-zero status.
 * @module
 */

import { initDistributed } from "../../lib/distributed/communicator.ts";
import { failRank } from "../../lib/distributed/failure.ts";

const comm = initDistributed();
try {
  comm.allreduceSum(new Float32Array(4));
  if (comm.rank === 1) throw new Error("rank one failed on purpose (test)");
  comm.barrier(); // rank 0 waits here for a rank that never comes
  console.log(`rank ${comm.rank} passed the barrier (must not happen)`);
  comm.finalize();
} catch (e) {
  failRank(comm, e);
}
