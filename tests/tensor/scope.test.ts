/**
 * Memory scopes: `tidy` frees every intermediate of a step (checked with the backend's live
 * buffer count), returned tensors move to the parent scope, `keep` exempts, exceptions still
 * free, disposed tensors fail loudly.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import * as T from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { keep, noGrad, releaseUnrecorded, tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { forEachBackend as onEveryBackend } from "../helpers/backends.ts";
import { seededRng, uniform } from "../helpers/numeric.ts";

/**
 * These bodies test `tidy` itself, at the outermost level, and count live storages themselves:
 * they run outside the helper's own leak-check scope.
 */
function forEachBackend(name: string, fn: (b: Backend) => void): void {
  onEveryBackend(name, fn, { leakCheck: false });
}

const f32 = (b: Backend, v: ArrayLike<number>, shape: number[]) =>
  T.tensor(b, Float32Array.from(v), shape);

/** A small 2-layer model's parameters (untracked leaves). */
function makeParams(b: Backend) {
  const rng = seededRng(11);
  const p = (shape: number[]) =>
    T.parameter(b, Float32Array.from(uniform(rng, shape.reduce((x, y) => x * y, 1))), shape);
  return {
    w1: p([8, 5]),
    b1: p([8]),
    gamma: p([8]),
    beta: p([8]),
    w2: p([1, 8]),
    b2: p([1]),
  };
}

/** One training step's forward and backward pass over a small graph batch. */
function step(b: Backend, ps: ReturnType<typeof makeParams>): Tensor {
  const x = f32(b, uniform(seededRng(12), 6 * 5), [6, 5]);
  const index = T.tensor(b, new Int32Array([0, 1, 1, 2, 3, 5, 4, 0]));
  const offsets = T.tensor(b, new Int32Array([0, 3, 8]));
  const edges = T.gatherRows(x, index); // [8, 5]
  const z = T.linear(edges, ps.w1, ps.b1); // [8, 8]
  const m = T.zeros(b, [8]), v = T.zeros(b, [8]);
  b.columnMoments(z.storage, m.storage, v.storage, 8, 8);
  const h = T.gate(T.batchNorm(z, ps.gamma, ps.beta, m, v, 1e-5, true)); // [8, 4]
  const pooled = T.segmentMean(T.concatCols([h, h]), offsets); // [2, 8]
  const y = T.linear(T.softplus(pooled), ps.w2, ps.b2); // [2, 1]
  const loss = T.mseLoss(y, f32(b, [0.5, -0.5], [2, 1]));
  loss.backward();
  return loss;
}

forEachBackend("scope: a tidy step frees every intermediate; only parameter grads remain", (b) => {
  const start = b.memory().liveBuffers;
  const ps = makeParams(b);
  const params = Object.values(ps);
  try {
    const before = b.memory();
    const loss = tidy(() => step(b, ps).item());
    assert.ok(Number.isFinite(loss));
    const after = b.memory();
    const gradBytes = params.reduce((s, p) => s + 4 * p.size, 0);
    assert.equal(
      after.liveBuffers,
      before.liveBuffers + params.length,
      "only one grad per parameter",
    );
    assert.equal(after.liveBytes, before.liveBytes + gradBytes);
    for (const p of params) assert.ok(p.grad !== null && !p.grad.disposed);
    assert.ok(after.peakBytes > after.liveBytes, "the step did allocate intermediates");
    // A second step accumulates into the existing grads: nothing new stays alive.
    tidy(() => step(b, ps).item());
    assert.deepEqual(
      [b.memory().liveBuffers, b.memory().liveBytes],
      [after.liveBuffers, after.liveBytes],
    );
  } finally {
    for (const p of params) p.dispose();
  }
  assert.equal(b.memory().liveBuffers, start, "disposing a parameter frees its grad too");
});

forEachBackend("scope: returned tensors survive and move to the parent scope", (b) => {
  const base = b.memory().liveBuffers;
  let inner: Tensor | null = null,
    fromArray: Tensor | null = null,
    fromObject: Tensor | null = null;
  let dropped: Tensor | null = null;
  tidy(() => {
    const result = tidy(() => {
      const a = f32(b, [1, 2, 3], [3]);
      dropped = T.exp(a);
      const s = T.add(a, a);
      return { s, list: [T.neg(a), 7], nested: { t: T.square(a) } };
    });
    inner = result.s;
    fromArray = result.list[0] as Tensor;
    fromObject = result.nested.t;
    assert.equal(dropped!.disposed, true, "not returned: freed at the inner scope's end");
    assert.deepEqual(Array.from(inner.toArray()), [2, 4, 6]);
    assert.deepEqual(Array.from(fromArray.toArray()), [-1, -2, -3]);
    assert.deepEqual(Array.from(fromObject.toArray()), [1, 4, 9]);
    assert.equal(b.memory().liveBuffers, base + 3);
  });
  assert.equal(inner!.disposed, true, "moved to the outer scope, freed at its end");
  assert.equal(fromArray!.disposed, true);
  assert.equal(fromObject!.disposed, true);
  assert.equal(b.memory().liveBuffers, base);
});

forEachBackend("scope: a tensor returned by the outermost tidy is owned by the caller", (b) => {
  const base = b.memory().liveBuffers;
  const t = tidy(() => T.affine(f32(b, [1, 2], [2]), 3, 1));
  assert.equal(b.memory().liveBuffers, base + 1);
  assert.deepEqual(Array.from(t.toArray()), [4, 7]);
  t.dispose();
  t.dispose(); // idempotent
  assert.equal(b.memory().liveBuffers, base);
});

forEachBackend("scope: keep() exempts a tensor from every enclosing scope", (b) => {
  const base = b.memory().liveBuffers;
  let kept: Tensor | null = null, other: Tensor | null = null;
  tidy(() => {
    tidy(() => {
      kept = keep(T.sigmoid(f32(b, [0], [1])));
      other = T.neg(kept);
    });
    assert.equal(other!.disposed, true);
    assert.equal(kept!.disposed, false);
  });
  assert.equal(kept!.disposed, false);
  assert.equal(kept!.item(), 0.5);
  assert.equal(b.memory().liveBuffers, base + 1);
  kept!.dispose();
  assert.equal(b.memory().liveBuffers, base);
});

forEachBackend("scope: an exception inside tidy still frees the scope's tensors", (b) => {
  const base = b.memory();
  let created: Tensor | null = null;
  assert.throws(
    () =>
      tidy(() => {
        created = T.square(f32(b, new Array(64).fill(1), [8, 8]));
        T.matmul(created, f32(b, [1, 2, 3], [3, 1])); // shape error
      }),
    RangeError,
  );
  assert.equal(created!.disposed, true);
  assert.equal(b.memory().liveBuffers, base.liveBuffers);
  assert.equal(b.memory().liveBytes, base.liveBytes);
  // Nested: the inner throw frees inner and (uncaught) outer tensors.
  let outerT: Tensor | null = null;
  assert.throws(() =>
    tidy(() => {
      outerT = f32(b, [1], [1]);
      tidy(() => {
        f32(b, [2], [1]);
        throw new Error("boom");
      });
    }), /boom/);
  assert.equal(outerT!.disposed, true);
  assert.equal(b.memory().liveBuffers, base.liveBuffers);
});

forEachBackend("scope: tidy rejects an async function and frees what it made", (b) => {
  const base = b.memory().liveBuffers;
  assert.throws(
    // deno-lint-ignore require-await
    () => tidy(async () => f32(b, [1], [1])),
    /synchronous/,
  );
  assert.equal(b.memory().liveBuffers, base);
});

forEachBackend("scope: using a disposed tensor throws a clear error", (b) => {
  let t: Tensor | null = null;
  tidy(() => {
    t = f32(b, [1, 2, 3, 4], [2, 2]);
  });
  const dead = t!;
  assert.equal(dead.disposed, true);
  const clear = (e: unknown) =>
    e instanceof Error && /used after dispose\(\)/.test(e.message) && e.message.includes("[2, 2]");
  assert.throws(() => dead.toArray(), clear);
  assert.throws(() => dead.storage, clear);
  const live = f32(b, [1, 1, 1, 1], [2, 2]);
  try {
    assert.throws(() => T.add(live, dead), clear);
    assert.throws(() => T.matmul(dead, live), clear);
  } finally {
    live.dispose();
  }
});

forEachBackend("scope: nested tidy frees inner intermediates at the inner end", (b) => {
  const base = b.memory().liveBuffers;
  tidy(() => {
    const a = f32(b, [1, 2], [2]);
    const mid = b.memory().liveBuffers;
    const r = tidy(() => {
      const x = T.exp(a), y = T.log(x);
      assert.equal(b.memory().liveBuffers, mid + 2);
      return T.add(y, a);
    });
    assert.equal(b.memory().liveBuffers, mid + 1, "x and y freed, r kept");
    assert.equal(a.disposed, false);
    assert.equal(r.disposed, false);
  });
  assert.equal(b.memory().liveBuffers, base);
});

forEachBackend("scope: noGrad inside tidy, and grads survive their step's scope", (b) => {
  const p = T.parameter(b, new Float32Array([1, 2]), [2]);
  const base = b.memory().liveBuffers;
  try {
    const v = tidy(() => noGrad(() => T.sum(T.square(p)).item()));
    assert.equal(v, 5);
    assert.equal(b.memory().liveBuffers, base);
    tidy(() => T.sum(T.square(p)).backward());
    assert.equal(b.memory().liveBuffers, base + 1);
    assert.deepEqual(Array.from(p.grad!.toArray()), [2, 4]);
  } finally {
    p.dispose();
  }
  assert.equal(b.memory().liveBuffers, base - 1);
});

onEveryBackend("scope: releaseUnrecorded frees only under noGrad", (b) => {
  const make = () => T.tensor(b, new Float32Array([1, 2, 3]));
  tidy(() => {
    const kept = make();
    releaseUnrecorded(kept);
    assert.equal(kept.disposed, false, "recording: backward may still need it");
    noGrad(() => {
      const freed = make();
      releaseUnrecorded(freed);
      assert.equal(freed.disposed, true, "no gradient recorded: freed at once");
    });
  });
});
