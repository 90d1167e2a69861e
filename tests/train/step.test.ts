/**
 * The training step shared by the trainer and the benchmarks: it must be exactly forward,
 * MSE, backward and the optimizer update (checked against the same sequence written out by
 * hand), update nothing on a non-finite loss, call `beforeUpdate` between the gradients and
 * the update, and free every intermediate tensor (the per-backend leak check).
 */
import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model } from "../../lib/models/model.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { affine, mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { lossAndGradients, mseTargetLoss, trainStep } from "../../lib/train/step.ts";
import { forEachBackend } from "../helpers/backends.ts";

const { graphs } = await featurize(syntheticCrystals({ count: 12, seed: 5 }), {
  cacheDir: null,
  quiet: true,
});
const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
const targets = Float32Array.from(batch.targets, (t) => (t + 1) / 2);

function tinyModel(backend: Backend): Model {
  return new Model({ kind: "facgcnn", atomFeaLen: 8, hFeaLen: 16, nConv: 2, seed: 3 }, backend)
    .train();
}

function weights(model: Model): Float32Array[] {
  return model.parameters().map((p) => p.value.toFloat32Array());
}

forEachBackend("trainStep is forward, MSE, backward and the optimizer update", (backend) => {
  const a = tinyModel(backend), b = tinyModel(backend);
  const optA = createOptimizer("sf-adamw", a.parameters(), { lr: 1e-2 });
  const optB = createOptimizer("sf-adamw", b.parameters(), { lr: 1e-2 });
  try {
    for (let step = 0; step < 3; step++) {
      const lossA = trainStep(a, optA, batch, targets);
      const lossB = tidy(() => {
        const l = mseLoss(b.forward(batch), tensor(backend, targets, [targets.length, 1]));
        l.backward();
        return l.item();
      });
      optB.step();
      optB.zeroGrad();
      assert.equal(lossA, lossB, `step ${step}: loss`);
      assert.ok(Number.isFinite(lossA) && lossA > 0);
    }
    const wa = weights(a), wb = weights(b);
    const w0 = weights(tinyModel(backend));
    wa.forEach((w, i) => assert.deepEqual(w, wb[i], `parameter ${i}`));
    assert.ok(wa.some((w, i) => w.some((v, j) => v !== w0[i][j])), "the steps changed weights");
    for (const p of a.parameters()) assert.equal(p.value.grad, null, "gradients zeroed");
  } finally {
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
  }
}, { leakCheck: false });

forEachBackend("trainStep and lossAndGradients leak no storage", (backend) => {
  const model = tinyModel(backend);
  const opt = createOptimizer("adamw", model.parameters(), { lr: 1e-3 });
  try {
    trainStep(model, opt, batch, targets); // creates the optimizer state
    const live = backend.memory().liveBuffers;
    trainStep(model, opt, batch, targets);
    assert.equal(backend.memory().liveBuffers, live, "trainStep");
    lossAndGradients(model, batch, targets);
    model.network.zeroGrad();
    assert.equal(backend.memory().liveBuffers, live, "lossAndGradients");
  } finally {
    opt.dispose();
    model.dispose();
  }
}, { leakCheck: false });

forEachBackend("a non-finite loss updates nothing and drops the gradients", (backend) => {
  const model = tinyModel(backend);
  const opt = createOptimizer("sgd", model.parameters(), { lr: 0.1 });
  try {
    const before = weights(model);
    const bad = targets.slice();
    bad[3] = NaN;
    let called = false;
    const loss = trainStep(model, opt, batch, bad, { beforeUpdate: () => called = true });
    assert.ok(Number.isNaN(loss));
    assert.equal(called, false, "beforeUpdate is not called");
    weights(model).forEach((w, i) => assert.deepEqual(w, before[i], `parameter ${i}`));
    for (const p of model.parameters()) assert.equal(p.value.grad, null, "gradients dropped");
  } finally {
    opt.dispose();
    model.dispose();
  }
}, { leakCheck: false });

forEachBackend("beforeUpdate sees the gradients before the update; the loss is pluggable", (
  backend,
) => {
  const model = tinyModel(backend);
  const opt = createOptimizer("sgd", model.parameters(), { lr: 0.1, momentum: 0 });
  try {
    const before = weights(model);
    let seen = 0;
    trainStep(model, opt, batch, targets, {
      beforeUpdate: () => {
        for (const p of model.parameters()) assert.ok(p.value.grad, `${p.name} has a gradient`);
        weights(model).forEach((w, i) => assert.deepEqual(w, before[i], "not yet updated"));
        seen++;
      },
    });
    assert.equal(seen, 1);
    assert.ok(weights(model).some((w, i) => w.some((v, j) => v !== before[i][j])), "updated");

    // A loss scaled by 2 (as a data-parallel share would scale it) reports twice the MSE.
    const mse = lossAndGradients(model, batch, targets);
    model.network.zeroGrad();
    model.reseedFrames(3, 2); // the same frame draws for both passes
    const m1 = lossAndGradients(model, batch, targets, mseTargetLoss);
    model.network.zeroGrad();
    model.reseedFrames(3, 2);
    const m2 = lossAndGradients(model, batch, targets, (p, t) => affine(mseTargetLoss(p, t), 2));
    model.network.zeroGrad();
    assert.ok(Number.isFinite(mse));
    assert.ok(Math.abs(m2 - 2 * m1) <= 1e-6 * m2, `${m2} vs 2 × ${m1}`);
  } finally {
    opt.dispose();
    model.dispose();
  }
}, { leakCheck: false });
