/**
 * E(3) invariance of FACGCNN predictions (frame averaging, Puny et al. ICLR 2022): structures are
 * moved by a random O(3) matrix (proper and improper) acting on the lattice rows (L → L·R), a
 * translation (a shift of the unwrapped fractional coordinates) and an atom permutation, then
 * featurized anew.
 *
 * A note on the graphs: the neighbour list keeps the whole shell when the 12th-nearest
 * distance is tied (the default), so a graph is a function of the crystal and not of the atom
 * order; every test below uses 12-neighbour graphs, tied cells included (CGCNN's truncation,
 * `ties: "truncate"`, keeps an atom-order-dependent subset: see invariance_ties.test.ts).
 *
 * Each model body runs on every backend (`forEachBackend`), except that the sweeps over all
 * test structures skip the all-TypeScript CPU configuration (see `SWEEP`).
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { neighborList } from "../../lib/crystal/neighbors.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import type { Dataset, GraphSet, Structure } from "../../lib/crystal/types.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import { computeFrames } from "../../lib/frames/select.ts";
import { collate } from "../../lib/graph/batch.ts";
import { buildHostInputs, uploadInputs } from "../../lib/models/inputs.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { SGD } from "../../lib/optim/sgd.ts";
import { gatherRows, mseLoss, tensor } from "../../lib/tensor/ops.ts";
import { noGrad, tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { forEachBackend } from "../helpers/backends.ts";
import { seededRng } from "../helpers/numeric.ts";
import { CGCNN_SAMPLE, graphsOf, perturbBatchNorm } from "./_fixtures.ts";
import { det3, type Motion, randomMotion, transformStructure } from "./_transform.ts";

const TOL = 1e-4;
/** The invariant configurations (lattice, hybrid; 8 frames) must hold to this. */
const TOL_INVARIANT = 1e-5;
/**
 * The invariance sweeps (50 structures × 8 frames, several models) take about 100 s on the
 * all-TypeScript CPU configuration of the shared test machine, most of it in the fallback
 * GEMM; there the model maths is checked against the float64 reference by
 * cgcnn_reference.test.ts and gradients.test.ts, and the kernels against the native ones by
 * the op tests.
 */
const SWEEP = {
  skipOn: { "cpu-ts": "~100 s sweep on the TypeScript GEMM; its maths is checked elsewhere" },
};

function asDataset(structures: Structure[]): Dataset {
  return {
    length: structures.length,
    skipped: [],
    get: (i) => ({ id: structures[i].id, structure: structures[i], target: 0 }),
  };
}

/** Synthetic structures plus the real sample CIFs (when present). */
async function loadStructures(): Promise<Structure[]> {
  const out: Structure[] = [];
  const syn = syntheticCrystals({ count: 48, seed: 3 });
  for (let i = 0; i < syn.length; i++) out.push(syn.get(i).structure);
  try {
    await Deno.stat(`${CGCNN_SAMPLE}/id_prop.csv`);
    const real = await loadDataset(CGCNN_SAMPLE, { quiet: true });
    for (let i = 0; i < real.length; i++) out.push(real.get(i).structure);
  } catch { /* the sample folder is optional */ }
  return out;
}

/** True when some atom's 12th and 13th nearest neighbours are at the same distance. */
function tiedAtCut(s: Structure): boolean {
  const nl = neighborList(s, { maxNeighbors: 13, ties: "truncate" });
  for (let a = 0; a < s.numbers.length; a++) {
    const lo = nl.offsets[a], hi = nl.offsets[a + 1];
    if (hi - lo === 13 && Math.abs(nl.distances[lo + 12] - nl.distances[lo + 11]) < 1e-6) {
      return true;
    }
  }
  return false;
}

const structures = await loadStructures();
const rng = seededRng(2024);
/** Motion of structure i: improper for odd i (det R = −1), proper for even i. */
const motions: Motion[] = structures.map((s, i) =>
  randomMotion(rng, s.numbers.length, i % 2 === 1)
);
const rigid: Motion[] = motions.map((m) => ({ ...m, permutation: undefined }));
const original = await graphsOf(asDataset(structures));
assert.equal(original.count, structures.length, "every test structure must featurize");
const moved = await graphsOf(
  asDataset(structures.map((s, i) => transformStructure(s, motions[i]))),
);
const gaps = computeFrames(original.positions, original.atomOffsets, original.lattices, "pca")
  .relativeGap;
const tied = structures.map(tiedAtCut);
/** Non-degenerate PCA frame (gap ≥ 1e-2) and no neighbour tie at the cut. */
const clean = structures.map((_, i) => gaps[i] >= 1e-2);
/** Exactly degenerate PCA covariance with ≥ 2 atoms (cubic and other high-symmetry cells). */
const cubicLike = structures.map((s, i) => gaps[i] < 1e-8 && s.numbers.length >= 2);

/** Per-structure |f(gX) − f(X)| / |f(X)| over the structures selected by `mask`. */
function relativeErrors(a: Float32Array, b: Float32Array, mask: boolean[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (mask[i]) out.push(Math.abs(b[i] - a[i]) / Math.max(Math.abs(a[i]), 1e-6));
  }
  return out;
}

function model(backend: Backend, config: Partial<ModelConfig>): Model {
  const m = new Model(
    { kind: "facgcnn", atomFeaLen: 32, hFeaLen: 32, seed: 5, ...config },
    backend,
  );
  perturbBatchNorm(m, 17);
  return m.eval();
}

/** `[8][C]` predictions (standardised scale) of every crystal under each single sign frame. */
function singleFrame(m: Model, graphs: GraphSet): Float32Array[] {
  const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
  return Array.from({ length: 8 }, (_, p) =>
    tidy(() =>
      noGrad(() => {
        const host = buildHostInputs(batch, {
          kind: "facgcnn",
          frames: "stochastic",
          frameKind: m.config.frameKind,
        }, () => (p + 0.5) / 8);
        const inputs = uploadInputs(m.backend, host);
        const atomFea = gatherRows(m.atomTable, inputs.numbers);
        return m.network.forward(atomFea, inputs).toFloat32Array();
      })
    ));
}

Deno.test("invariance: the test data covers clean, cubic, proper and improper cases", () => {
  assert.ok(clean.filter(Boolean).length >= 15, `clean: ${clean.filter(Boolean).length}`);
  assert.ok(cubicLike.filter(Boolean).length >= 4, `cubic: ${cubicLike.filter(Boolean).length}`);
  assert.ok(tied.filter((t, i) => t && cubicLike[i]).length >= 4, "tied cubic cells");
  assert.ok(tied.filter((t, i) => t && clean[i]).length >= 2, "tied non-degenerate cells");
  assert.ok(motions.some((m) => det3(m.rotation!) < -0.999));
  assert.ok(motions.some((m) => det3(m.rotation!) > 0.999));
  assert.ok(motions.some((m) => Array.from(m.permutation!).some((p, i) => p !== i)));
});

forEachBackend('invariance: pca frames "all" under O(3) + translation + permutation', (backend) => {
  const m = model(backend, { frames: "all" });
  try {
    const p0 = m.predictGraphs(original), p1 = m.predictGraphs(moved);
    const errs = relativeErrors(p0, p1, clean);
    assert.ok(Math.max(...errs) <= TOL, `max relative error ${Math.max(...errs)}`);
    // Improper motions are half of them: both handednesses are covered above.
    const improper = clean.map((c, i) => c && i % 2 === 1);
    assert.ok(improper.filter(Boolean).length >= 5);
  } finally {
    m.dispose();
  }
}, SWEEP);

forEachBackend('invariance: frames "none" is not invariant (the check can fail)', (backend) => {
  const m = model(backend, { frames: "none" });
  try {
    const errs = relativeErrors(m.predictGraphs(original), m.predictGraphs(moved), clean);
    assert.ok(Math.max(...errs) > 1e-2, `w/o FA moved by only ${Math.max(...errs)}`);
    // and most structures move by more than the invariance tolerance
    assert.ok(errs.filter((e) => e > TOL).length > errs.length / 2);
  } finally {
    m.dispose();
  }
});

forEachBackend(
  "invariance: stochastic frames draw from the same 8 frames for a moved input",
  (backend) => {
    const m = model(backend, { frames: "stochastic" });
    try {
      const s0 = singleFrame(m, original), s1 = singleFrame(m, moved);
      const all = m.predictGraphs(original, { frames: "all" });
      let spread = 0;
      for (let c = 0; c < original.count; c++) {
        const set0 = s0.map((s) => s[c]), set1 = s1.map((s) => s[c]);
        const scale = Math.max(...set0.map(Math.abs));
        // "all" is the mean of the 8 single-frame predictions (targetMean 0, std 1).
        const mean = set0.reduce((a, b) => a + b, 0) / 8;
        assert.ok(Math.abs(all[c] - mean) <= 1e-5 * scale, `crystal ${c}: all ≠ mean of frames`);
        if (!clean[c]) continue;
        // The frames really differ (otherwise set equality would be trivial).
        if (Math.max(...set0) - Math.min(...set0) > 10 * TOL * scale) spread++;
        for (const [a, b] of [[set0, set1], [set1, set0]]) {
          for (const v of a) {
            const d = Math.min(...b.map((w) => Math.abs(w - v)));
            assert.ok(d <= TOL * scale, `crystal ${c}: ${v} not in the other set (${d})`);
          }
        }
      }
      const nClean = clean.filter(Boolean).length;
      assert.ok(spread >= 0.8 * nClean, `only ${spread} of ${nClean} crystals vary over frames`);
      // Stochastic predictions of the moved crystals are members of the original sets.
      for (let rep = 0; rep < 5; rep++) {
        m.reseedFrames(rep, 11);
        const y = m.predictGraphs(moved, { frames: "stochastic" });
        for (let c = 0; c < original.count; c++) {
          if (!clean[c]) continue;
          const set0 = s0.map((s) => s[c]);
          const scale = Math.max(...set0.map(Math.abs));
          const d = Math.min(...set0.map((w) => Math.abs(w - y[c])));
          assert.ok(
            d <= TOL * scale,
            `crystal ${c}: stochastic ${y[c]} is no frame of the original`,
          );
        }
      }
    } finally {
      m.dispose();
    }
  },
  SWEEP,
);

for (const frameKind of ["lattice", "hybrid"] as const) {
  forEachBackend(`invariance: ${frameKind} frames, O(3) + translation + permutation`, (backend) => {
    const m = model(backend, { frames: "all", frameKind });
    try {
      const p0 = m.predictGraphs(original);
      // every structure: degenerate PCA covariances and tied shells included
      const every = structures.map(() => true);
      const errs = relativeErrors(p0, m.predictGraphs(moved), every);
      assert.ok(Math.max(...errs) <= TOL_INVARIANT, `max relative error ${Math.max(...errs)}`);
      // A lattice base is invariant frame by frame: one stochastic frame suffices.
      if (frameKind === "lattice") {
        const s0 = singleFrame(m, original), s1 = singleFrame(m, moved);
        for (let p = 0; p < 8; p++) {
          const e = relativeErrors(s0[p], s1[p], every);
          assert.ok(Math.max(...e) <= TOL, `frame ${p}: ${Math.max(...e)}`);
        }
      }
    } finally {
      m.dispose();
    }
  }, SWEEP);
}

forEachBackend(
  'invariance: cubic cells: pca "all" is not invariant, lattice and hybrid are',
  async (backend) => {
    // Degenerate (cubic-like) cells with their 12-neighbour graphs, tied shells kept whole,
    // under O(3) + translation + permutation: only the frames decide.
    const idx = structures.map((_, i) => i).filter((i) => cubicLike[i]);
    const g0 = await graphsOf(asDataset(idx.map((i) => structures[i])));
    const g1 = await graphsOf(
      asDataset(idx.map((i) => transformStructure(structures[i], motions[i]))),
    );
    assert.equal(g0.count, idx.length);
    const every = idx.map(() => true);
    const errsOf = (frameKind: "pca" | "lattice" | "hybrid") => {
      const m = model(backend, { frames: "all", frameKind });
      try {
        return relativeErrors(m.predictGraphs(g0), m.predictGraphs(g1), every);
      } finally {
        m.dispose();
      }
    };
    const pca = errsOf("pca"), lattice = errsOf("lattice"), hybrid = errsOf("hybrid");
    assert.ok(Math.max(...lattice) <= TOL_INVARIANT, `lattice, cubic: ${Math.max(...lattice)}`);
    assert.ok(Math.max(...hybrid) <= TOL_INVARIANT, `hybrid, cubic: ${Math.max(...hybrid)}`);
    const worst = Math.max(...pca);
    assert.ok(worst > TOL && worst > 100 * Math.max(...lattice), `pca moved by only ${worst}`);
  },
  SWEEP,
);

Deno.test({
  name: "invariance: the 12-neighbour graph of a rigidly moved cubic cell is unchanged " +
    "(ties at decimal CIF distances, e.g. diamond a = 3.56670 Å, must not split on roundoff)",
  fn() {
    for (let i = 0; i < structures.length; i++) {
      if (!cubicLike[i]) continue;
      const a = neighborList(structures[i]);
      const b = neighborList(transformStructure(structures[i], rigid[i]));
      // Ties are ordered by (neighbour index, image), both unchanged by a rigid motion, so
      // the kept neighbour indices must come out in the same order.
      for (let e = 0; e < a.neighbors.length; e++) {
        assert.equal(a.neighbors[e], b.neighbors[e], `${structures[i].id}: edge ${e}`);
      }
    }
  },
});

forEachBackend("memory: live buffers do not grow over training steps", (backend) => {
  for (const frames of ["stochastic", "all"] as const) {
    const m = new Model(
      { kind: "facgcnn", atomFeaLen: 16, hFeaLen: 16, nConv: 2, frames, seed: 3 },
      backend,
    );
    const opt = new SGD(m.parameters(), { lr: 1e-3 });
    try {
      m.train();
      const batch = collate(original, Int32Array.from({ length: 8 }, (_, i) => i));
      const targets = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i));
      const step = () => {
        opt.zeroGrad();
        tidy(() => {
          const loss = mseLoss(m.forward(batch), tensor(backend, targets, [8, 1]));
          loss.backward();
        });
        opt.step();
      };
      step();
      const after1 = backend.memory().liveBuffers;
      for (let i = 0; i < 6; i++) step();
      const afterN = backend.memory().liveBuffers;
      assert.equal(
        afterN,
        after1,
        `${frames}: ${after1} live buffers after 1 step, ${afterN} after 7`,
      );
      // Predictions do not leak either.
      m.predictGraphs(original, { batchSize: 16 });
      assert.equal(backend.memory().liveBuffers, after1, `${frames}: predictGraphs leaked`);
    } finally {
      opt.dispose();
      m.dispose();
    }
  }
});
