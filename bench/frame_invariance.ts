/**
 * Frame degeneracy and measured E(3) invariance of FACGCNN predictions on a synthetic set
 * (prototypes including cubic cells, and random cells).
 *
 *   deno run -A bench/frame_invariance.ts [count=1000] [seed=1]
 *
 * Prints (1) how many structures have a degenerate PCA frame (relative eigengap < 1e-2,
 * exactly degenerate < 1e-8, one atom), and (2) the invariance error of a randomly
 * initialised FACGCNN (A = 64, eval mode) under a random O(3) matrix (half of them improper)
 * plus a random translation: max and 99th percentile of |f(gX) − f(X)| / (|f(X)| + 1e-6)
 * for PCA frames averaged over all 8 ("all"), lattice and hybrid frames, one stochastic
 * frame (the same sign patterns drawn for X and gX), and the "none" control (w/o FA). CGCNN's row measures the graph alone (it sees distances only): anything
 * above float32 noise there means the neighbour graph itself changed.
 * @module
 */

import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { featurize } from "../lib/data/featurize.ts";
import { Rng } from "../lib/util/random.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import type { Dataset, GraphSet, Structure } from "../lib/crystal/types.ts";
import { computeFrames, degeneracyReport, type FrameMode } from "../lib/frames/select.ts";
import { Model, type ModelConfig } from "../lib/models/model.ts";

const count = Number(Deno.args[0] ?? 1000);
const seed = Number(Deno.args[1] ?? 1);
if (!Number.isInteger(count) || count < 1) throw new RangeError(`bad count ${Deno.args[0]}`);

/** Uniform random rotation (unit quaternion), negated when `improper` (det = −1). */
function randomO3(rng: Rng, improper: boolean): Float64Array {
  const u1 = rng.next(), u2 = 2 * Math.PI * rng.next(), u3 = 2 * Math.PI * rng.next();
  const a = Math.sqrt(1 - u1), b = Math.sqrt(u1);
  const w = a * Math.sin(u2), x = a * Math.cos(u2), y = b * Math.sin(u3), z = b * Math.cos(u3);
  const s = improper ? -1 : 1;
  return Float64Array.from([
    1 - 2 * (y * y + z * z),
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    1 - 2 * (x * x + z * z),
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    1 - 2 * (x * x + y * y),
  ].map((v) => s * v));
}

/** L → L·R (so X → X·R) and a translation as an unwrapped fractional shift. */
function moveStructure(s: Structure, rng: Rng, improper: boolean): Structure {
  const R = randomO3(rng, improper), L = s.lattice;
  const lattice = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) lattice[3 * i + j] += L[3 * i + k] * R[3 * k + j];
    }
  }
  const shift = [rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(-2, 2)];
  const frac = s.frac.map((f, i) => f + shift[i % 3]);
  return { id: s.id, lattice, frac, numbers: s.numbers };
}

function asDataset(structures: Structure[]): Dataset {
  return {
    length: structures.length,
    skipped: [],
    get: (i) => ({ id: structures[i].id, structure: structures[i], target: 0 }),
  };
}

async function graphsOf(structures: Structure[]): Promise<{ g: GraphSet; ids: Set<string> }> {
  const { graphs } = await featurize(asDataset(structures), { cacheDir: null, quiet: true });
  return { g: graphs, ids: new Set(graphs.ids) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

const t0 = performance.now();
const ds = syntheticCrystals({ count, seed });
const rng = new Rng(seed, 777);
const originals: Structure[] = [], moved: Structure[] = [];
for (let i = 0; i < ds.length; i++) {
  const s = ds.get(i).structure;
  originals.push(s);
  moved.push(moveStructure(s, rng, i % 2 === 1));
}
const a = await graphsOf(originals);
const b = await graphsOf(moved);
// Keep structures featurized in both (an atom without neighbours is skipped).
if (a.g.count !== b.g.count || a.g.ids.some((id, i) => b.g.ids[i] !== id)) {
  throw new Error("the original and moved sets featurized to different structure lists");
}
const g0 = a.g, g1 = b.g;
const tFeat = performance.now() - t0;

const frames = computeFrames(g0.positions, g0.atomOffsets, g0.lattices, "pca");
const report = degeneracyReport({ relativeGap: frames.relativeGap, segments: g0.atomOffsets });
const cubic = Array.from({ length: g0.count }, (_, c) => {
  const L = g0.lattices.subarray(9 * c, 9 * c + 9);
  const len = [0, 1, 2].map((r) => Math.hypot(L[3 * r], L[3 * r + 1], L[3 * r + 2]));
  const dot = (r: number, q: number) =>
    (L[3 * r] * L[3 * q] + L[3 * r + 1] * L[3 * q + 1] + L[3 * r + 2] * L[3 * q + 2]) /
    (len[r] * len[q]);
  return Math.abs(len[0] - len[1]) < 1e-6 * len[0] && Math.abs(len[0] - len[2]) < 1e-6 * len[0] &&
    Math.abs(dot(0, 1)) < 1e-9 && Math.abs(dot(0, 2)) < 1e-9 && Math.abs(dot(1, 2)) < 1e-9;
});
const nCubic = cubic.filter(Boolean).length;
const pct = (n: number) => `${(100 * n / g0.count).toFixed(1)}%`;

console.log(`# Frame degeneracy and invariance, synthetic:${count} (seed ${seed})\n`);
console.log(
  `featurized ${g0.count} structures (+ moved copies) in ${(tFeat / 1000).toFixed(1)} s\n`,
);
console.log("| structures | count | share |");
console.log("|---|---:|---:|");
console.log(`| total | ${report.total} | 100% |`);
console.log(`| cubic cells (a = b = c, 90°) | ${nCubic} | ${pct(nCubic)} |`);
console.log(
  `| PCA degenerate (relative gap < ${report.gapTolerance}) | ${report.degenerate} | ${
    pct(report.degenerate)
  } |`,
);
console.log(
  `| exactly degenerate (gap < ${report.exactTolerance}) | ${report.exactDegenerate} | ${
    pct(report.exactDegenerate)
  } |`,
);
console.log(`| one atom (C = 0) | ${report.oneAtom} | ${pct(report.oneAtom)} |`);
console.log("");

const backend = createCpuBackend();
const degenerate = Array.from(frames.relativeGap, (g) => g < report.gapTolerance);

interface Row {
  label: string;
  config: Partial<ModelConfig>;
  frames: FrameMode;
}
const rows: Row[] = [
  { label: "FACGCNN pca, all 8 frames", config: { frameKind: "pca" }, frames: "all" },
  { label: "FACGCNN lattice, all 8 frames", config: { frameKind: "lattice" }, frames: "all" },
  {
    label: "FACGCNN pca, 1 stochastic frame (same draws)",
    config: { frameKind: "pca" },
    frames: "stochastic",
  },
  {
    label: "FACGCNN lattice, 1 stochastic frame (same draws)",
    config: { frameKind: "lattice" },
    frames: "stochastic",
  },
  { label: "FACGCNN hybrid, all 8 frames", config: { frameKind: "hybrid" }, frames: "all" },
  { label: "FACGCNN none (w/o FA, control)", config: {}, frames: "none" },
  { label: "CGCNN (graph only)", config: { kind: "cgcnn" }, frames: "none" },
];

function stats(errs: number[]): string {
  if (errs.length === 0) return "– | –";
  const s = [...errs].sort((x, y) => x - y);
  return `${s[s.length - 1].toExponential(1)} | ${percentile(s, 0.99).toExponential(1)}`;
}

console.log(
  "Invariance error |f(gX) − f(X)| / (|f(X)| + 1e-6), g = random O(3) (half improper) + " +
    "translation; randomly initialised model, A = 64, eval mode.\n",
);
console.log(
  "| model / frames | all: max | all: p99 | non-degenerate: max | p99 | " +
    "degenerate: max | p99 | cubic: max | p99 |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows) {
  const model = new Model({
    kind: "facgcnn",
    atomFeaLen: 64,
    seed: 3,
    frames: row.frames,
    ...row.config,
  }, backend);
  try {
    model.eval();
    // The same stochastic sign patterns for X and gX (a lattice base is invariant frame by
    // frame, a PCA base only as the set of 8).
    model.reseedFrames(5, 1);
    const p0 = model.predictGraphs(g0);
    model.reseedFrames(5, 1);
    const p1 = model.predictGraphs(g1);
    const all: number[] = [], clean: number[] = [], degen: number[] = [], cub: number[] = [];
    for (let c = 0; c < g0.count; c++) {
      const e = Math.abs(p1[c] - p0[c]) / (Math.abs(p0[c]) + 1e-6);
      all.push(e);
      (degenerate[c] ? degen : clean).push(e);
      if (cubic[c]) cub.push(e);
    }
    console.log(
      `| ${row.label} | ${stats(all)} | ${stats(clean)} | ${stats(degen)} | ${stats(cub)} |`,
    );
  } finally {
    model.dispose();
  }
}
console.log(
  `\n(${g0.count - degenerate.filter(Boolean).length} non-degenerate, ${
    degenerate.filter(Boolean).length
  } degenerate, ${nCubic} cubic; ${((performance.now() - t0) / 1000).toFixed(1)} s in all)`,
);
