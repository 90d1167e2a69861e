/**
 * CGCNN / FACGCNN forward against the independent float64 implementation of CGCNN (Xie &
 * Grossman, PRL 120, 145301 (2018)) and FACGCNN in `_reference.ts` (concat form, plain loops),
 * on the model's own initial weights with non-trivial BatchNorm parameters and running
 * statistics, on synthetic crystals (prototypes including cubic cells, and random cells) and on
 * the real COD CIFs of the CGCNN sample.
 *
 * Norm: max-norm relative error over the crystals of a batch, ‖y − r‖∞ / ‖r‖∞ ≤ 1e-5, where y
 * is the float32 model and r the float64 reference.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { Rng } from "../../lib/util/random.ts";
import type { GraphSet } from "../../lib/crystal/types.ts";
import { computeFrames, type FrameKind, type FrameMode } from "../../lib/frames/select.ts";
import { collate } from "../../lib/graph/batch.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import {
  allIndices,
  perturbBatchNorm,
  sampleGraphs,
  syntheticGraphs,
  weightsOf,
} from "./_fixtures.ts";
import {
  type FrameMatrix,
  IDENTITY3,
  maxRelative,
  type Mutation,
  referenceForward,
  referenceGraph,
  signedFrame,
} from "./_reference.ts";
import { forEachBackend } from "../helpers/backends.ts";

const TOL = 1e-5;
const synthetic = await syntheticGraphs(12, 11);
const real = await sampleGraphs();

function modelOutput(model: Model, graphs: GraphSet, idx: Int32Array, frames?: FrameMode) {
  const batch = collate(graphs, idx);
  return tidy(() => model.forward(batch, frames).toFloat32Array());
}

/** Frame matrices `[copies][crystal]` of the canonical bases with the given sign patterns. */
function frameMatrices(
  graphs: GraphSet,
  idx: Int32Array,
  kind: FrameKind,
  patterns: number[][],
): FrameMatrix[][] {
  const batch = collate(graphs, idx);
  const fr = computeFrames(batch.positions, batch.crystalOffsets, batch.lattices, kind);
  for (let c = 0; c < idx.length; c++) {
    const U = fr.bases.subarray(9 * c, 9 * c + 9);
    checkOrthonormal(U, c);
    if (kind === "pca") checkEigenvectors(batch.positions, batch.crystalOffsets, c, U);
  }
  return patterns.map((row) =>
    row.map((p, c) => signedFrame(fr.bases.subarray(9 * c, 9 * c + 9), p))
  );
}

/** The frame bases fed to the reference are orthonormal (columns = axes). */
function checkOrthonormal(U: ArrayLike<number>, c: number) {
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      let d = 0;
      for (let i = 0; i < 3; i++) d += U[3 * i + a] * U[3 * i + b];
      assert.ok(Math.abs(d - (a === b ? 1 : 0)) < 1e-9, `crystal ${c}: base not orthonormal`);
    }
  }
}

/** PCA base columns are eigenvectors of the centred covariance, eigenvalues ascending. */
function checkEigenvectors(x: Float64Array, seg: Int32Array, c: number, U: ArrayLike<number>) {
  const lo = seg[c], hi = seg[c + 1];
  const t = [0, 1, 2].map((k) => {
    let s = 0;
    for (let i = lo; i < hi; i++) s += x[3 * i + k];
    return s / (hi - lo);
  });
  const C = new Float64Array(9);
  for (let i = lo; i < hi; i++) {
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) C[3 * a + b] += (x[3 * i + a] - t[a]) * (x[3 * i + b] - t[b]);
    }
  }
  const scale = Math.max(...C.map(Math.abs), 1e-300);
  let prev = -Infinity;
  for (let k = 0; k < 3; k++) {
    const u = [0, 1, 2].map((i) => U[3 * i + k]);
    const Cu = [0, 1, 2].map((a) => C[3 * a] * u[0] + C[3 * a + 1] * u[1] + C[3 * a + 2] * u[2]);
    const lambda = Cu[0] * u[0] + Cu[1] * u[1] + Cu[2] * u[2];
    const res = Math.hypot(...Cu.map((v, i) => v - lambda * u[i]));
    assert.ok(res <= 1e-9 * scale, `crystal ${c}: column ${k} is no eigenvector (${res})`);
    assert.ok(lambda >= prev - 1e-9 * scale, `crystal ${c}: eigenvalues not ascending`);
    prev = lambda;
  }
}

interface Case {
  name: string;
  config: ModelConfig;
  /** Frame mode passed to the model. */
  frames?: FrameMode;
  /** Reference frame matrices for this mode (null for CGCNN). */
  refFrames: (graphs: GraphSet, idx: Int32Array) => FrameMatrix[][] | null;
}

function shapeOf(model: Model) {
  const c = model.config;
  return { atomFeaLen: c.atomFeaLen, hFeaLen: c.hFeaLen, nConv: c.nConv, nH: c.nH };
}

function runCase(backend: Backend, c: Case, graphs: GraphSet, label: string) {
  const idx = allIndices(graphs);
  const model = new Model(c.config, backend);
  try {
    perturbBatchNorm(model, 101);
    const shape = shapeOf(model);
    const g = referenceGraph(
      graphs,
      idx,
      model.atomFeatures.rows,
      model.atomFeatures.length,
      c.refFrames(graphs, idx),
    );
    // Evaluation first (running statistics), then training (batch statistics: the forward
    // pass also updates the running statistics, which the reference does not need).
    const w = weightsOf(model);
    model.eval();
    const yEval = modelOutput(model, graphs, idx, c.frames);
    const rEval = referenceForward(w, shape, g, false);
    const eEval = maxRelative(yEval, rEval);
    assert.ok(eEval <= TOL, `${c.name} ${label} eval: relative error ${eEval}`);
    model.train();
    const yTrain = modelOutput(model, graphs, idx, c.frames);
    const rTrain = referenceForward(w, shape, g, true);
    const eTrain = maxRelative(yTrain, rTrain);
    assert.ok(eTrain <= TOL, `${c.name} ${label} train: relative error ${eTrain}`);
    // Batch statistics and running statistics must really give different outputs.
    assert.ok(maxRelative(rEval, rTrain) > 1e-3, `${c.name}: eval and train coincide`);
  } finally {
    model.dispose();
  }
}

const cases: Case[] = [
  {
    name: "CGCNN defaults (A=64, H=128, nConv=3, nH=1)",
    config: { kind: "cgcnn", seed: 1 },
    refFrames: () => null,
  },
  {
    name: "CGCNN A=8, H=16, nConv=2, nH=2",
    config: { kind: "cgcnn", atomFeaLen: 8, hFeaLen: 16, nConv: 2, nH: 2, seed: 2 },
    refFrames: () => null,
  },
  {
    name: "CGCNN A=16, H=8, nConv=5, nH=3",
    config: { kind: "cgcnn", atomFeaLen: 16, hFeaLen: 8, nConv: 5, nH: 3, seed: 3 },
    refFrames: () => null,
  },
  {
    name: 'FACGCNN frames "none" (centred coordinates, raw vectors), A=16, nConv=3',
    config: { kind: "facgcnn", atomFeaLen: 16, hFeaLen: 32, frames: "none", seed: 4 },
    refFrames: (_g, idx) => [Array.from(idx, () => IDENTITY3)],
  },
  {
    name: 'FACGCNN pca frames "all" (8 copies averaged), A=8, nConv=2, nH=2',
    config: {
      kind: "facgcnn",
      atomFeaLen: 8,
      hFeaLen: 16,
      nConv: 2,
      nH: 2,
      frames: "all",
      seed: 5,
    },
    refFrames: (g, idx) =>
      frameMatrices(
        g,
        idx,
        "pca",
        Array.from({ length: 8 }, (_, f) => Array.from(idx, () => f)),
      ),
  },
  {
    name: 'FACGCNN lattice frames "all", A=16, nConv=3',
    config: { kind: "facgcnn", atomFeaLen: 16, frames: "all", frameKind: "lattice", seed: 6 },
    refFrames: (g, idx) =>
      frameMatrices(
        g,
        idx,
        "lattice",
        Array.from({ length: 8 }, (_, f) => Array.from(idx, () => f)),
      ),
  },
];

for (const c of cases) {
  forEachBackend(
    `reference forward: ${c.name}, synthetic crystals`,
    (backend) => runCase(backend, c, synthetic, "syn"),
  );
  forEachBackend(
    `reference forward: ${c.name}, real COD CIFs`,
    (backend) => runCase(backend, c, real!, "cif"),
    { skip: real === null ? "the CGCNN sample CIFs are absent" : undefined },
  );
}

forEachBackend(
  "reference forward: FACGCNN stochastic frames reproduce a fixed frame pattern",
  (backend) => {
    // The model draws one pattern per crystal from Rng(seed, stream) as floor(8·u); with the
    // same stream the reference uses the same patterns (training mode couples the crystals
    // through BatchNorm, so the whole batch must match).
    for (const graphs of [synthetic, real].filter((g) => g !== null)) {
      const idx = allIndices(graphs);
      const model = new Model(
        { kind: "facgcnn", atomFeaLen: 16, hFeaLen: 16, nConv: 2, frames: "stochastic", seed: 7 },
        backend,
      );
      try {
        perturbBatchNorm(model, 202);
        const w = weightsOf(model);
        const rng = new Rng(99, 3);
        const patterns = Array.from(idx, () => Math.min(7, Math.floor(rng.next() * 8)));
        assert.ok(new Set(patterns).size > 1, "patterns should vary over crystals");
        model.reseedFrames(99, 3);
        const y = modelOutput(model, graphs, idx);
        const g = referenceGraph(
          graphs,
          idx,
          model.atomFeatures.rows,
          model.atomFeatures.length,
          frameMatrices(graphs, idx, "pca", [patterns]),
        );
        const r = referenceForward(w, shapeOf(model), g, true);
        const e = maxRelative(y, r);
        assert.ok(e <= TOL, `stochastic train: relative error ${e}`);
      } finally {
        model.dispose();
      }
    }
  },
);

forEachBackend(
  "reference forward: eval-mode stochastic predictions are single-frame references",
  (backend) => {
    const graphs = synthetic;
    const idx = allIndices(graphs);
    const model = new Model(
      { kind: "facgcnn", atomFeaLen: 8, hFeaLen: 16, nConv: 2, seed: 8 },
      backend,
    );
    try {
      perturbBatchNorm(model, 303);
      model.eval();
      const w = weightsOf(model);
      const single = Array.from({ length: 8 }, (_, p) =>
        referenceForward(
          w,
          shapeOf(model),
          referenceGraph(
            graphs,
            idx,
            model.atomFeatures.rows,
            model.atomFeatures.length,
            frameMatrices(graphs, idx, "pca", [Array.from(idx, () => p)]),
          ),
          false,
        ));
      const scale = Math.max(...single.flatMap((s) => Array.from(s, Math.abs)));
      for (let rep = 0; rep < 4; rep++) {
        model.reseedFrames(rep, 1);
        const y = modelOutput(model, graphs, idx, "stochastic");
        for (let c = 0; c < idx.length; c++) {
          const best = Math.min(...single.map((s) => Math.abs(s[c] - y[c])));
          assert.ok(best <= TOL * scale, `crystal ${c}: ${y[c]} is no single-frame reference`);
        }
      }
      // `{ sample: 8 }` is all frames in another order: the average of the references.
      const y8 = modelOutput(model, graphs, idx, { sample: 8 });
      const mean = Float64Array.from(idx, (_, c) => single.reduce((s, r) => s + r[c], 0) / 8);
      assert.ok(maxRelative(y8, mean) <= TOL, "sample: 8 is not the mean");
    } finally {
      model.dispose();
    }
  },
);

forEachBackend(
  "reference forward: predictGraphs applies the target scaling in eval mode",
  (backend) => {
    const model = new Model(
      { kind: "cgcnn", atomFeaLen: 8, hFeaLen: 8, nConv: 2, seed: 9 },
      backend,
    );
    try {
      perturbBatchNorm(model, 404);
      model.targetMean = -1.25;
      model.targetStd = 0.5;
      model.train();
      const pred = model.predictGraphs(synthetic, { batchSize: 5 });
      assert.ok(model.network.training, "predictGraphs must restore training mode");
      const idx = allIndices(synthetic);
      const r = referenceForward(
        weightsOf(model),
        shapeOf(model),
        referenceGraph(synthetic, idx, model.atomFeatures.rows, model.atomFeatures.length, null),
        false,
      ).map((v) => -1.25 + 0.5 * v);
      assert.ok(
        maxRelative(pred, r) <= TOL,
        `predictGraphs: relative error ${maxRelative(pred, r)}`,
      );
    } finally {
      model.dispose();
    }
  },
);

forEachBackend(
  "reference forward: large pre-activations (softplus above its threshold 20)",
  (backend) => {
    const model = new Model(
      { kind: "cgcnn", atomFeaLen: 8, hFeaLen: 8, nConv: 2, seed: 10 },
      backend,
    );
    try {
      perturbBatchNorm(model, 505);
      const state = model.network.stateDict();
      // Half of conv_to_fc's outputs far above the threshold, a BN2 shift that pushes atom
      // features above it too.
      const b = state.get("conv_to_fc.bias")!.data;
      for (let i = 0; i < b.length; i += 2) b[i] = 40 + i;
      state.get("convs.0.bn2.bias")!.data.fill(30);
      model.network.loadStateDict(state);
      model.eval();
      const idx = allIndices(synthetic);
      const y = modelOutput(model, synthetic, idx);
      const r = referenceForward(
        weightsOf(model),
        shapeOf(model),
        referenceGraph(synthetic, idx, model.atomFeatures.rows, model.atomFeatures.length, null),
        false,
      );
      assert.ok(y.every(Number.isFinite));
      assert.ok(maxRelative(y, r) <= TOL, `relative error ${maxRelative(y, r)}`);
    } finally {
      model.dispose();
    }
  },
);

forEachBackend("reference forward: the comparison detects deviations from CGCNN", (backend) => {
  // Each mutation of the reference must move the output by far more than the tolerance,
  // so the tests above can fail.
  const model = new Model({ kind: "cgcnn", atomFeaLen: 16, hFeaLen: 16, seed: 12 }, backend);
  try {
    perturbBatchNorm(model, 606);
    const w = weightsOf(model);
    const idx = allIndices(synthetic);
    const g = referenceGraph(
      synthetic,
      idx,
      model.atomFeatures.rows,
      model.atomFeatures.length,
      null,
    );
    const base = referenceForward(w, shapeOf(model), g, true);
    const y = modelOutput(model, synthetic, idx);
    assert.ok(maxRelative(y, base) <= TOL);
    const mutations: Mutation[] = ["swap-ij", "unbiased-var", "sum-pool", "no-inner-softplus"];
    for (const m of mutations) {
      const e = maxRelative(y, referenceForward(w, shapeOf(model), g, true, m));
      assert.ok(e > 100 * TOL, `mutation ${m} changes the output by only ${e}`);
    }
  } finally {
    model.dispose();
  }
});
