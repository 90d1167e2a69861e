/**
 * The backward pass hands gradients on without copies where that is safe: add passes its
 * incoming gradient to both operands (shared, never written in place while shared), and a
 * linear layer adds its input gradient into the one already pending (GEMM β = 1). Each test
 * counts the storages the backward pass allocates (an `alloc` spy on the backend) and checks
 * the gradients against closed forms, including the cases that sharing could corrupt:
 * `add(x, x)`, two leaves fed by one add, and accumulation over two backward calls.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import * as T from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { forEachBackend } from "../helpers/backends.ts";
import { assertClose, seededRng, uniform } from "../helpers/numeric.ts";

/** Runs `loss().backward()` and returns how many storages the backward pass allocated. */
function backwardAllocations(b: Backend, loss: () => Tensor): number {
  let count = 0;
  const alloc = b.alloc;
  tidy(() => {
    const l = loss();
    b.alloc = (...args) => {
      count++;
      return alloc.apply(b, args);
    };
    try {
      l.backward();
    } finally {
      b.alloc = alloc;
    }
  });
  return count;
}

const values = (n: number, seed: number) => Float32Array.from(uniform(seededRng(seed), n));

forEachBackend("backward: add hands its gradient to both operands without a copy", (b) => {
  const data = values(64 * 32, 1);
  const x = T.parameter(b, data, [64, 32]);
  try {
    // L = Σ softplus(sigmoid(x) + exp(x)). Backward allocates: the seed, sum's gradient,
    // softplus's, sigmoid's and exp's: 5. Copying add's gradient for its second operand would
    // be a sixth; x's two contributions are summed in place (no further storage).
    const loss = () => T.sum(T.softplus(T.add(T.sigmoid(x), T.exp(x))));
    assert.equal(backwardAllocations(b, loss), 5);
    const expected = Array.from(data, (v) => {
      const s = 1 / (1 + Math.exp(-v)), e = Math.exp(v), u = s + e;
      return (1 / (1 + Math.exp(-u))) * (s * (1 - s) + e);
    });
    assertClose(x.grad!.toArray(), expected, 1e-5, 1e-6, "dL/dx");
  } finally {
    x.dispose();
  }
});

forEachBackend("backward: shared gradients are never written in place", (b) => {
  const dp = values(6, 2), dq = values(6, 3);
  const p = T.parameter(b, dp, [2, 3]), q = T.parameter(b, dq, [2, 3]);
  try {
    // add(x, x): both operands are x; its gradient is 2·(dL/dout).
    tidy(() => T.sum(T.square(T.add(p, p))).backward()); // d/dp Σ(2p)² = 8p
    assertClose(p.grad!.toArray(), Array.from(dp, (v) => 8 * v), 1e-6, 1e-7, "add(p, p)");
    p.grad!.dispose();
    p.grad = null;
    // Two leaves fed the same gradient get storages of their own: accumulating a second
    // backward into one must not change the other.
    tidy(() => T.sum(T.add(p, q)).backward());
    assert.notEqual(p.grad!.storage, q.grad!.storage);
    tidy(() => T.sum(T.mul(p, p)).backward()); // adds 2p to p's gradient only
    assertClose(p.grad!.toArray(), Array.from(dp, (v) => 1 + 2 * v), 1e-6, 1e-7, "p");
    assertClose(q.grad!.toArray(), [1, 1, 1, 1, 1, 1], 0, 0, "q untouched");
    // sub: y gets −g in a storage of its own.
    q.grad!.dispose();
    q.grad = null;
    tidy(() => T.sum(T.softplus(T.sub(T.exp(q), q))).backward());
    const expected = Array.from(
      dq,
      (v) => (1 / (1 + Math.exp(-(Math.exp(v) - v)))) * (Math.exp(v) - 1),
    );
    assertClose(q.grad!.toArray(), expected, 1e-5, 1e-6, "d softplus(eᵠ − q)");
  } finally {
    p.dispose();
    q.dispose();
  }
});

forEachBackend("backward: linear adds its input gradient into the pending one", (b) => {
  const rows = 40, A = 16;
  const xData = values(rows * A, 4), wData = values(2 * A * 2 * A, 5);
  const x = T.parameter(b, xData, [rows, A]);
  const w = T.parameter(b, wData, [2 * A, 2 * A]);
  try {
    // CGCNN's node terms: v = softplus(x) feeds v·W[:, 0:A]ᵀ and v·W[:, A:2A]ᵀ.
    const loss = () => {
      const v = T.softplus(x);
      return T.sum(T.add(T.linear(v, w, null, 0), T.linear(v, w, null, A)));
    };
    // Allocations: the seed; sum's gradient; add: none (g to both); the first linear: dx and
    // dW; the second: none (dx into v's pending gradient, dW into W's pending one, GEMM β = 1);
    // softplus: dx. 5 in all.
    assert.equal(backwardAllocations(b, loss), 5);
    // Closed form: dL/dv[r, c] = Σ_j W[j, c] + Σ_j W[j, A + c]; dL/dx = dL/dv · σ(x).
    const colSum = new Float64Array(2 * A);
    for (let j = 0; j < 2 * A; j++) {
      for (let c = 0; c < 2 * A; c++) colSum[c] += wData[j * 2 * A + c];
    }
    const expected = Array.from(xData, (v, i) => {
      const c = i % A;
      return (colSum[c] + colSum[A + c]) / (1 + Math.exp(-v));
    });
    assertClose(x.grad!.toArray(), expected, 1e-4, 1e-5, "dL/dx");
    // dL/dW[j, c] = Σ_r v[r, c mod A]: both column blocks.
    const vColSum = new Float64Array(A);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < A; c++) vColSum[c] += Math.log1p(Math.exp(xData[r * A + c]));
    }
    const dw = Array.from({ length: 2 * A * 2 * A }, (_, k) => vColSum[(k % (2 * A)) % A]);
    assertClose(w.grad!.toArray(), dw, 1e-4, 1e-4, "dL/dW");
  } finally {
    x.dispose();
    w.dispose();
  }
});
