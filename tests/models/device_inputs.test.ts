/**
 * The device-side input path (Gaussians expanded by the backend from distances, one packed
 * upload) against the earlier host path (features built on the host and uploaded whole), on
 * the CPU backend standing in for the device: the same tensors to the bit, hence the same
 * training losses (checked to 1e-6 over a few optimizer steps, CGCNN and FACGCNN with one and
 * with all eight frames).
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { type GaussianPlace, hostEdgeFeatures, uploadInputs } from "../../lib/models/inputs.ts";
import { createOptimizer } from "../../lib/optim/create.ts";
import { gatherRows, mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { syntheticGraphs } from "./_fixtures.ts";

const backend = cpuBackend();
const graphs = await syntheticGraphs(12, 3);
const batch = collate(graphs, Int32Array.from({ length: 12 }, (_, i) => i));
const targets = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));

const cases: { name: string; config: Partial<ModelConfig> & Pick<ModelConfig, "kind"> }[] = [
  { name: "cgcnn", config: { kind: "cgcnn" } },
  { name: "facgcnn stochastic", config: { kind: "facgcnn", frames: "stochastic" } },
  { name: "facgcnn all", config: { kind: "facgcnn", frames: "all" } },
];

/** Losses of `steps` SGD steps with the inputs built as `place` says. */
function losses(
  config: Partial<ModelConfig> & Pick<ModelConfig, "kind">,
  place: GaussianPlace,
  steps: number,
): number[] {
  const model = new Model({ atomFeaLen: 16, hFeaLen: 16, seed: 9, ...config }, backend);
  const opt = createOptimizer("sgd", model.parameters(), { lr: 0.01 });
  try {
    model.train();
    const out: number[] = [];
    for (let s = 0; s < steps; s++) {
      model.network.zeroGrad();
      out.push(tidy(() => {
        const inputs = uploadInputs(backend, model.hostInputs(batch), { gaussians: place });
        const pred = model.network.forward(gatherRows(model.atomTable, inputs.numbers), inputs);
        const loss = mseLoss(pred, tensor(backend, targets, [12, 1]));
        loss.backward();
        return loss.item();
      }));
      opt.step();
    }
    return out;
  } finally {
    opt.dispose();
    model.dispose();
  }
}

for (const c of cases) {
  Deno.test(`device inputs: ${c.name}: the same tensors as the host path, bit for bit`, () => {
    const model = new Model({ atomFeaLen: 16, hFeaLen: 16, seed: 9, ...c.config }, backend);
    try {
      const h = model.hostInputs(batch);
      tidy(() => {
        const dev = uploadInputs(backend, h),
          host = uploadInputs(backend, h, { gaussians: "host" });
        assert.deepEqual(dev.edgeFeatures.shape, host.edgeFeatures.shape);
        assert.deepEqual(dev.edgeFeatures.toFloat32Array(), hostEdgeFeatures(h));
        for (const k of ["numbers", "edgeOffsets", "neighbors", "crystalOffsets"] as const) {
          assert.deepEqual(dev[k].toArray(), host[k].toArray(), k);
        }
        assert.deepEqual(dev.coords?.toFloat32Array(), host.coords?.toFloat32Array());
        assert.deepEqual(dev.copyOrder?.toArray(), host.copyOrder?.toArray());
      });
    } finally {
      model.dispose();
    }
  });

  Deno.test(`device inputs: ${c.name}: the same training losses as the host path (1e-6)`, () => {
    const a = losses(c.config, "device", 3), b = losses(c.config, "host", 3);
    for (let i = 0; i < a.length; i++) {
      assert.ok(
        Math.abs(a[i] - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])),
        `step ${i}: ${a[i]} vs ${b[i]}`,
      );
    }
  });
}
