/**
 * Run under `mpirun -np P`: exercises the communicator's collectives with values whose sums
 * are known in closed form, and prints one JSON line per rank.
 * @module
 */

import { initDistributed } from "../../lib/distributed/communicator.ts";

const comm = initDistributed();
const { rank, size } = comm;
// float32: element i of rank r is r + i/8 (exact in binary), sum over ranks = P(P−1)/2 + P·i/8.
const n = 1000;
const f32 = new Float32Array(n).map((_, i) => rank + i / 8);
comm.allreduceSum(f32);
let f32Error = 0;
for (let i = 0; i < n; i++) {
  f32Error = Math.max(f32Error, Math.abs(f32[i] - (size * (size - 1) / 2 + size * i / 8)));
}
// float64 in a subarray (offset view): sum of 1/(r+1) over ranks.
const big = new Float64Array(10).fill(-7);
const view = big.subarray(3, 6);
view.fill(1 / (rank + 1));
comm.allreduceSum(view);
let harmonic = 0;
for (let r = 0; r < size; r++) harmonic += 1 / (r + 1);
const f64Error = Math.max(...Array.from(view, (v) => Math.abs(v - harmonic)));
const untouched = big[2] === -7 && big[6] === -7;
// broadcast from the last rank
const bytes = new Uint8Array(5).fill(rank);
comm.broadcast(bytes, size - 1);
const broadcastOk = bytes.every((b) => b === size - 1);
comm.barrier();
console.log(JSON.stringify({
  rank,
  size,
  description: comm.description,
  f32Error,
  f64Error,
  untouched,
  broadcastOk,
}));
comm.finalize();
