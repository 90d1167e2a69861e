/**
 * Permutation invariance of predictions on cubic cells whose 12th-nearest neighbour shell is
 * tied (real-like decimal lattice constants): with the whole tied shell kept (the default),
 * reordering the atoms changes neither CGCNN's nor FACGCNN's prediction; with CGCNN's
 * truncation (`neighborTies: "truncate"`) it does. Each body runs on every backend.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { latticeFromParameters } from "../../lib/crystal/lattice.ts";
import type { NeighborTies } from "../../lib/crystal/neighbors.ts";
import type { Dataset, Structure } from "../../lib/crystal/types.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { Model, type ModelConfig } from "../../lib/models/model.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { seededRng } from "../helpers/numeric.ts";
import { perturbBatchNorm } from "./_fixtures.ts";
import { randomPermutation, transformStructure } from "./_transform.ts";

function cubic(id: string, a: number, frac: number[], numbers: number[]): Structure {
  return {
    id,
    lattice: latticeFromParameters(a, a, a, 90, 90, 90),
    frac: Float64Array.from(frac),
    numbers: Int32Array.from(numbers),
  };
}

const fcc = [0, 0, 0, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5];
const cells: Structure[] = [
  cubic("SrTiO3", 3.905, [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5], [
    38,
    22,
    8,
    8,
    8,
  ]),
  cubic("BaTiO3", 4.0094, [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5], [
    56,
    22,
    8,
    8,
    8,
  ]),
  cubic("NaCl", 5.6402, [...fcc, ...fcc.map((f, i) => (i % 3 === 0 ? (f + 0.5) % 1 : f))], [
    11,
    11,
    11,
    11,
    17,
    17,
    17,
    17,
  ]),
  cubic("C-diamond", 3.5667, [...fcc, ...fcc.map((f) => f + 0.25)], Array(8).fill(6)),
  cubic("CsCl", 4.123, [0, 0, 0, 0.5, 0.5, 0.5], [55, 17]),
];

function asDataset(structures: Structure[]): Dataset {
  return {
    length: structures.length,
    skipped: [],
    get: (i) => ({ id: structures[i].id, structure: structures[i], target: 0 }),
  };
}

const rng = seededRng(99);
const permutations = cells.flatMap((s) =>
  Array.from({ length: 4 }, () => randomPermutation(rng, s.numbers.length))
);
const permuted = cells.flatMap((s, c) =>
  permutations.slice(4 * c, 4 * c + 4).map((p) => transformStructure(s, { permutation: p }))
);
const repeated = cells.flatMap((s) => [s, s, s, s]);

async function maxRelativeChange(
  backend: Backend,
  config: Partial<ModelConfig>,
  ties: NeighborTies,
) {
  const opts = { cacheDir: null, quiet: true, neighborTies: ties } as const;
  const g0 = (await featurize(asDataset(repeated), opts)).graphs;
  const g1 = (await featurize(asDataset(permuted), opts)).graphs;
  const m = new Model(
    { kind: "facgcnn", atomFeaLen: 32, hFeaLen: 32, seed: 4, ...config },
    backend,
  );
  perturbBatchNorm(m, 8);
  m.eval();
  try {
    const p0 = m.predictGraphs(g0), p1 = m.predictGraphs(g1);
    let worst = 0;
    for (let i = 0; i < p0.length; i++) {
      worst = Math.max(worst, Math.abs(p1[i] - p0[i]) / Math.max(Math.abs(p0[i]), 1e-6));
    }
    return worst;
  } finally {
    m.dispose();
  }
}

forEachBackend(
  "tied cubic cells: predictions are permutation invariant with whole shells",
  async (backend) => {
    for (
      const config of [
        { kind: "cgcnn" },
        { frames: "all", frameKind: "hybrid" },
        { frames: "all", frameKind: "lattice" },
      ] as Partial<ModelConfig>[]
    ) {
      const e = await maxRelativeChange(backend, config, "include");
      assert.ok(e <= 1e-5, `${JSON.stringify(config)}: ${e}`);
      const d = await maxRelativeChange(backend, config, "drop");
      assert.ok(d <= 1e-5, `${JSON.stringify(config)} (drop): ${d}`);
    }
  },
);

forEachBackend(
  "tied cubic cells: CGCNN's truncation is not permutation invariant (the test can fail)",
  async (backend) => {
    const e = await maxRelativeChange(backend, { kind: "cgcnn" }, "truncate");
    assert.ok(e > 1e-4, `truncation moved the prediction by only ${e}`);
  },
);
