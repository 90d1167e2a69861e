/**
 * Whole-model gradients: `backward()` of the MSE loss (float32 autograd through the whole
 * CGCNN / FACGCNN network) against central differences of the same loss computed in float64
 * by the independent reference (`_reference.ts`), for a sample of entries of every
 * parameter tensor (embedding, fc_full, bn1/bn2 weight and bias, conv_to_fc, fcs, fc_out).
 *
 * Differences are taken in float64 (h = 1e-6·max(1, |w|)): truncation error ~h², roundoff
 * ~1e-16/h, both far below the float32 gradient's own error, so the tolerance only has to
 * cover float32 autograd: |g − fd| ≤ 2e-3·max(max|g_tensor|, 1e-5·max|g_all|) + 2e-3·|fd|,
 * with the largest gradient entry of each tensor always among the samples (so the scale is
 * meaningful). In training mode fc_full's bias has a true gradient of 0 (BN1 follows it);
 * that is checked too.
 */

import assert from "node:assert/strict";
import { Rng } from "../../lib/util/random.ts";
import type { GraphSet } from "../../lib/crystal/types.ts";
import { computeFrames, type FrameMode } from "../../lib/frames/select.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { forEachBackend } from "../helpers/backends.ts";
import { seededRng } from "../helpers/numeric.ts";
import { perturbBatchNorm, syntheticGraphs, weightsOf } from "./_fixtures.ts";
import {
  type FrameMatrix,
  IDENTITY3,
  mse64,
  referenceForward,
  referenceGraph,
  type RefGraph,
  type RefWeights,
  signedFrame,
} from "./_reference.ts";

const graphs = await syntheticGraphs(24, 5);

/** Three small crystals (≤ 12 atoms), so the float64 reference is cheap to re-run. */
const tiny: Int32Array = (() => {
  const pick: number[] = [];
  for (let c = 0; c < graphs.count && pick.length < 3; c++) {
    const n = graphs.atomOffsets[c + 1] - graphs.atomOffsets[c];
    if (n >= 2 && n <= 12) pick.push(c);
  }
  assert.equal(pick.length, 3, "need three small synthetic crystals");
  return Int32Array.from(pick);
})();

interface GradCase {
  name: string;
  config: ModelConfig;
  training: boolean;
  /** Reference frame matrices (null for CGCNN); called after the frame RNG is seeded. */
  frames: (g: GraphSet, idx: Int32Array) => FrameMatrix[][] | null;
  mode?: FrameMode;
}

function stochasticPatterns(idx: Int32Array): FrameMatrix[][] {
  const rng = new Rng(42, 7); // the stream passed to reseedFrames
  const patterns = Array.from(idx, () => Math.min(7, Math.floor(rng.next() * 8)));
  const batch = collate(graphs, idx);
  const fr = computeFrames(batch.positions, batch.crystalOffsets, batch.lattices, "pca");
  return [patterns.map((p, c) => signedFrame(fr.bases.subarray(9 * c, 9 * c + 9), p))];
}

const cases: GradCase[] = [
  {
    name: "CGCNN A=8 H=8 nConv=2 nH=2, training mode",
    config: { kind: "cgcnn", atomFeaLen: 8, hFeaLen: 8, nConv: 2, nH: 2, seed: 21 },
    training: true,
    frames: () => null,
  },
  {
    name: "CGCNN A=4 H=8 nConv=3 nH=1, eval mode",
    config: { kind: "cgcnn", atomFeaLen: 4, hFeaLen: 8, nConv: 3, nH: 1, seed: 22 },
    training: false,
    frames: () => null,
  },
  {
    name: 'FACGCNN A=8 H=8 nConv=2 nH=2, frames "none", training mode',
    config: {
      kind: "facgcnn",
      atomFeaLen: 8,
      hFeaLen: 8,
      nConv: 2,
      nH: 2,
      frames: "none",
      seed: 23,
    },
    training: true,
    frames: (_g, idx) => [Array.from(idx, () => IDENTITY3)],
  },
  {
    name: "FACGCNN A=8 H=8 nConv=2, stochastic frames (reseeded), training mode",
    config: { kind: "facgcnn", atomFeaLen: 8, hFeaLen: 8, nConv: 2, seed: 24 },
    training: true,
    frames: (_g, idx) => stochasticPatterns(idx),
    mode: "stochastic",
  },
];

function sampleIndices(size: number, grad: Float32Array, rng: () => number, n: number): number[] {
  let arg = 0;
  for (let i = 1; i < size; i++) if (Math.abs(grad[i]) > Math.abs(grad[arg])) arg = i;
  const out = new Set<number>([arg]);
  while (out.size < Math.min(n, size)) out.add(Math.floor(rng() * size));
  return [...out];
}

for (const c of cases) {
  forEachBackend(`gradients: ${c.name}`, (backend) => {
    const model = new Model(c.config, backend);
    try {
      perturbBatchNorm(model, 77);
      if (c.training) model.train();
      else model.eval();
      const batch = collate(graphs, tiny);
      const rng = seededRng(31);
      const targets = Float64Array.from(tiny, () => Math.fround(2 * rng() - 1));
      // Model gradients (float32 autograd).
      model.reseedFrames(42, 7);
      model.network.zeroGrad();
      const loss32 = tidy(() => {
        const pred = model.forward(batch, c.mode);
        const loss = mseLoss(pred, tensor(backend, Float32Array.from(targets), [tiny.length, 1]));
        loss.backward();
        return loss.item();
      });
      const weights = weightsOf(model);
      const shape = {
        atomFeaLen: model.config.atomFeaLen,
        hFeaLen: model.config.hFeaLen,
        nConv: model.config.nConv,
        nH: model.config.nH,
      };
      const g: RefGraph = referenceGraph(
        graphs,
        tiny,
        model.atomFeatures.rows,
        model.atomFeatures.length,
        c.frames(graphs, tiny),
      );
      const lossOf = (w: RefWeights) => mse64(referenceForward(w, shape, g, c.training), targets);
      const loss64 = lossOf(weights);
      assert.ok(
        Math.abs(loss32 - loss64) <= 1e-5 * Math.abs(loss64) + 1e-7,
        `loss ${loss32} vs reference ${loss64}`,
      );

      const params = model.parameters();
      const layers = new Set(params.map((p) => p.name.replace(/\.(weight|bias)$/, "")));
      for (
        const want of ["embedding", "convs.0.fc_full", "convs.0.bn1", "convs.0.bn2", "fc_out"]
      ) {
        assert.ok(layers.has(want), `missing layer ${want}`);
      }
      let checked = 0;
      const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const global = Math.max(...params.map((p) => maxAbs(p.value.grad!.toFloat32Array())));
      for (const p of params) {
        assert.ok(p.value.grad, `${p.name} has no gradient`);
        const grad = p.value.grad.toFloat32Array();
        // In training mode BN1 removes any constant shift of its input, so the loss does not
        // depend on fc_full's bias: its true gradient is 0 (float32 leaves roundoff).
        const shiftInvariant = c.training && p.name.endsWith("fc_full.bias");
        const scale = Math.max(maxAbs(grad), 1e-5 * global);
        const w = weights.get(p.name)!;
        for (const i of sampleIndices(w.length, grad, rng, 5)) {
          const saved = w[i];
          const h = 1e-6 * Math.max(1, Math.abs(saved));
          w[i] = saved + h;
          const up = lossOf(weights);
          w[i] = saved - h;
          const down = lossOf(weights);
          w[i] = saved;
          const fd = (up - down) / (2 * h);
          const err = Math.abs(grad[i] - fd);
          // A shift-invariant parameter's true gradient is 0, so its float32 backward is pure
          // roundoff (Σ dz over the edges): it is held to the roundoff bound of the whole
          // network's gradients, not to 2e-3 of its own roundoff-sized largest entry.
          const allowed = shiftInvariant
            ? 1e-5 * global + 2e-3 * Math.abs(fd)
            : 2e-3 * scale + 2e-3 * Math.abs(fd);
          assert.ok(
            err <= allowed,
            `${p.name}[${i}]: backward ${grad[i]}, finite difference ${fd} (scale ${scale})`,
          );
          checked++;
        }
        if (shiftInvariant) {
          assert.ok(maxAbs(grad) <= 1e-5 * global, `${p.name}: gradient should be ~0`);
        } else {
          // The largest gradient of every tensor is a real signal, not roundoff.
          assert.ok(maxAbs(grad) > 1e-4 * global, `${p.name}: all gradients ~0 (${scale})`);
        }
      }
      assert.ok(checked >= 5 * params.length - params.length, `only ${checked} entries checked`);
    } finally {
      model.network.zeroGrad();
      model.dispose();
    }
  });
}
