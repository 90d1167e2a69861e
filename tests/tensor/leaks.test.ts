/**
 * The leak check (`checkNoLeaks`, tfjs `engine.ts`'s debug check): it passes a clean op,
 * fails an op that leaves a raw storage or an untracked tensor alive, names the op and the
 * counts, and rejects an async function; the per-op check (`checkedOps`) names the op that
 * leaks. Runs on every backend, outside the helper's own leak check (these bodies leak on
 * purpose and clean up after themselves).
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import * as T from "../../lib/tensor/ops.ts";
import { checkNoLeaks } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { checkedOp, checkedOps } from "../helpers/checked_ops.ts";

const f32 = (b: Backend, v: number[]) => T.tensor(b, Float32Array.from(v), [v.length]);

function leakTest(name: string, fn: (b: Backend) => void): void {
  forEachBackend(`leaks: ${name}`, fn, { leakCheck: false });
}

leakTest("a clean forward and backward pass passes", (b) => {
  const p = T.parameter(b, new Float32Array([1, 2, 3]), [3]);
  try {
    checkNoLeaks(b, "softplus", () => T.softplus(T.mul(p, f32(b, [1, -1, 2]))));
    checkNoLeaks(b, "sum of squares, backward", () => {
      T.sum(T.square(p)).backward();
      p.grad!.dispose(); // the gradient is the only untracked tensor backward makes
      p.grad = null;
    });
  } finally {
    p.dispose();
  }
});

leakTest("a storage no tensor owns is a leak naming the op and the counts", (b) => {
  let stray: ReturnType<Backend["alloc"]> | null = null;
  const before = b.memory().liveBuffers;
  assert.throws(
    () =>
      checkNoLeaks(b, "leakyOp", () => {
        const x = f32(b, [1, 2]);
        stray = b.alloc("float32", 16); // a kernel's scratch buffer, never freed
        return T.neg(x);
      }),
    (e: unknown) =>
      e instanceof Error &&
      /^leakyOp leaked 1 storage \(\d+ bytes\)/.test(e.message) &&
      e.message.includes(`live storages ${before} → ${before + 1}`) &&
      e.message.includes(b.name),
  );
  b.free(stray!);
  assert.equal(b.memory().liveBuffers, before);
});

leakTest("an untracked tensor left alive is a leak", (b) => {
  let p: Tensor | null = null;
  assert.throws(
    () => checkNoLeaks(b, "makeParameter", () => (p = T.parameter(b, new Float32Array(4), [4]))),
    /^Error: makeParameter leaked 1 storage/,
  );
  p!.dispose();
  // Returned tracked tensors are freed by the check's scope: no leak.
  checkNoLeaks(b, "returned", () => T.exp(f32(b, [0])));
});

leakTest("freeing a storage made before the check is reported too", (b) => {
  const t = f32(b, [1]);
  assert.throws(() => checkNoLeaks(b, "disposer", () => t.dispose()), /disposer freed 1 storage/);
});

leakTest("an async function is rejected", (b) => {
  assert.throws(
    // deno-lint-ignore require-await
    () => checkNoLeaks(b, "asyncOp", async () => f32(b, [1])),
    /checkNoLeaks\(asyncOp\): fn must be synchronous/,
  );
});

// --- the per-op check of tests/helpers/checked_ops.ts ---------------------------------------

leakTest("checkedOp: a kernel's stray buffer fails naming the op", (b) => {
  let stray: ReturnType<Backend["alloc"]> | null = null;
  const leaky = checkedOp("leakyExp", (x: Tensor) => {
    stray = b.alloc("float32", 8);
    return T.exp(x);
  });
  const x = f32(b, [0, 1]);
  assert.throws(
    () => leaky(x),
    /^Error: leakyExp leaked 1 storage on the cpu|^Error: leakyExp leaked 1 storage on the cuda/,
  );
  b.free(stray!);
  x.dispose();
});

leakTest("checkedOp: a composite op's intermediates are freed by its scope, not a leak", (b) => {
  const x = f32(b, [1, 2, 3]);
  const before = b.memory().liveBuffers;
  const meanOfSquares = checkedOp("meanOfSquares", (t: Tensor) => T.mean(T.square(t)));
  const y = meanOfSquares(x);
  assert.ok(Math.abs(y.item() - 14 / 3) <= 1e-6, `mean of squares ${y.item()}`);
  assert.equal(b.memory().liveBuffers, before + 1, "only the result is alive");
  y.dispose();
  // Disposing an input inside an op is reported too.
  const disposer = checkedOp("disposer", (t: Tensor) => {
    t.dispose();
    return T.zeros(b, [1]);
  });
  assert.throws(() => disposer(x), /disposer freed 1 storage/);
});

leakTest("checkedOps: wraps every op under its name; errors of the op pass through", (b) => {
  const C = checkedOps(T);
  assert.equal(typeof C.matmul, "function");
  const a = C.tensor(b, new Float32Array(6), [2, 3]);
  assert.throws(() => C.matmul(a, a), RangeError);
  assert.deepEqual(Array.from(C.affine(a, 2, 1).toArray()), [1, 1, 1, 1, 1, 1]);
});
