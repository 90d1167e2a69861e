/**
 * Run under `mpirun` with `FACGCNN_NCCL` pointing at the stand-in built from fake_nccl.c:
 * creates the NCCL communicator through MPI and prints what `ncclCommInitRank` received.
 * @module
 */

import { initDistributed } from "../../lib/distributed/communicator.ts";
import { NcclCommunicator, openNccl } from "../../lib/distributed/nccl.ts";

const comm = initDistributed();
const api = openNccl();
const nccl = NcclCommunicator.create(comm, api);
const h = Deno.UnsafePointer.value(nccl.handle) as bigint;
const buf = new Float32Array([1, 2, 3, 4, 5]);
nccl.allreduceSumDevice(Deno.UnsafePointer.of(buf), 4, null);
nccl.destroy();
console.log(JSON.stringify({
  rank: comm.rank,
  size: comm.size,
  description: api.description,
  idChecksum: Number(h >> 24n),
  initRank: Number((h >> 12n) & 0xfffn),
  initSize: Number(h & 0xfffn),
  buf: Array.from(buf),
}));
comm.finalize();
