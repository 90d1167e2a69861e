/**
 * Loading optimizer state is all or nothing, for every optimizer (they share one loader,
 * `StateBuffers` in lib/optim/buffers.ts): a wrongly sized or missing buffer, or a missing
 * hyperparameter, throws naming the key, and leaves the optimizer's state, hyperparameters and
 * the backend's live storages as they were.
 */

import assert from "node:assert/strict";
import { createOptimizer } from "../../lib/optim/create.ts";
import type { OptimizerKind, OptimizerState } from "../../lib/optim/optimizer.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { param, release, toySteps } from "./helpers.ts";

const FIRST_BUFFER: Record<OptimizerKind, string> = { "adamw": "m", "sgd": "buf", "sf-adamw": "z" };
const LAST_BUFFER: Record<OptimizerKind, string> = { "adamw": "v", "sgd": "buf", "sf-adamw": "v" };

for (const kind of ["adamw", "sgd", "sf-adamw"] as const) {
  forEachBackend(`${kind}: a bad state is rejected whole, naming the key`, (backend) => {
    const a = param(backend, "a", [1, 2, 3]), b = param(backend, "b", [4, 5]);
    const opt = createOptimizer(kind, [a, b], { lr: 0.01 });
    toySteps(backend, opt, a, 2);
    toySteps(backend, opt, b, 2);
    const saved = opt.stateDict();
    const a2 = param(backend, "a", [0, 0, 0]);
    const other = createOptimizer(kind, [a2, b], { lr: 0.5 });
    toySteps(backend, other, b, 1);
    const before = other.stateDict();
    const live = backend.memory().liveBuffers;
    const bad: [string, OptimizerState, RegExp][] = [
      [
        "the last buffer of the last parameter too short",
        withTensor(saved, `${LAST_BUFFER[kind]}/b`, new Float32Array(1)),
        new RegExp(`"${LAST_BUFFER[kind]}/b" has 1 elements, expected 2`),
      ],
      [
        "a buffer missing",
        withTensor(saved, `${LAST_BUFFER[kind]}/a`, undefined),
        new RegExp(`optimizer state has no "${LAST_BUFFER[kind]}/a"`),
      ],
      ["a hyperparameter missing", withScalar(saved, "lr"), /optimizer state has no number "lr"/],
    ];
    for (const [what, state, error] of bad) {
      assert.throws(() => other.loadStateDict(state), error, what);
      assert.deepEqual(other.stateDict(), before, `${what}: the state changed`);
      assert.equal(backend.memory().liveBuffers, live, `${what}: storages leaked`);
    }
    // The good state loads, and is then what the optimizer saves.
    other.loadStateDict(saved);
    assert.equal(other.lr, 0.01);
    assert.deepEqual(
      other.stateDict().tensors[`${FIRST_BUFFER[kind]}/a`],
      saved.tensors[`${FIRST_BUFFER[kind]}/a`],
    );
    release(opt, other, a, a2, b);
  });
}

function withTensor(
  s: OptimizerState,
  key: string,
  data: Float32Array | undefined,
): OptimizerState {
  const tensors = { ...s.tensors };
  if (data === undefined) delete tensors[key];
  else tensors[key] = data;
  return { ...s, tensors };
}

function withScalar(s: OptimizerState, drop: string): OptimizerState {
  const scalars = { ...s.scalars };
  delete scalars[drop];
  return { ...s, scalars };
}
