import assert from "node:assert/strict";
import type { Communicator } from "../../lib/distributed/communicator.ts";
import { LocalCommunicator } from "../../lib/distributed/communicator.ts";
import { GradientAllreduce } from "../../lib/distributed/gradients.ts";
import { parameter, tensor } from "../../lib/tensor/ops.ts";
import { forEachBackend } from "../helpers/backends.ts";

/** A stand-in for P processes that all hold the same buffer: the sum is P times it. */
function replicated(P: number): Communicator & { seen: number[] } {
  const local = new LocalCommunicator();
  const seen: number[] = [];
  return Object.assign(Object.create(local), {
    size: P,
    seen,
    allreduceSum(buf: Float32Array | Float64Array) {
      seen.push(buf.length);
      for (let i = 0; i < buf.length; i++) buf[i] *= P;
    },
  });
}

forEachBackend("GradientAllreduce: one fused buffer per step, gradients summed in place", (b) => {
  const w = parameter(b, new Float32Array([1, 2, 3, 4]), [2, 2]);
  const v = parameter(b, new Float32Array([5]), [1]);
  w.grad = tensor(b, new Float32Array([0.5, -1, 2, 0.25]), [2, 2]);
  v.grad = tensor(b, new Float32Array([3]), [1]);
  const comm = replicated(3);
  const reducer = new GradientAllreduce([w, v], comm, b);
  assert.equal(reducer.length, 5);
  const loss = reducer.reduce(0.125);
  assert.equal(loss, 0.375);
  assert.deepEqual(comm.seen, [6], "one collective with 4 + 1 gradients and the loss");
  assert.deepEqual(Array.from(b.download(w.grad.storage)), [1.5, -3, 6, 0.75]);
  assert.deepEqual(Array.from(b.download(v.grad.storage)), [9]);
  assert.equal(reducer.stats.bytes, 24);
  assert.equal(reducer.stats.calls, 1);
  // One process: identity.
  const one = new GradientAllreduce([w, v], new LocalCommunicator(), b);
  assert.equal(one.reduce(2), 2);
  assert.deepEqual(Array.from(b.download(v.grad.storage)), [9]);
  w.dispose();
  v.dispose();
});
