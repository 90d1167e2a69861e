/**
 * Host-side frame cost per batch: 2048 crystals × 15 atoms (positions in float64).
 * Run: deno bench --allow-read --allow-env bench/frames.bench.ts
 * @module
 */

import { pcaFrames } from "../lib/frames/pca.ts";
import { latticeFrames } from "../lib/frames/lattice.ts";
import { computeFrames, frameCoordinates, frameIndices } from "../lib/frames/select.ts";

const N_CRYSTALS = 2048;
const ATOMS = 15;

// deterministic pseudo-random inputs (LCG) so runs are comparable
let state = 12345;
const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);

const segments = new Int32Array(N_CRYSTALS + 1).map((_, c) => c * ATOMS);
const positions = new Float64Array(3 * N_CRYSTALS * ATOMS).map(() => 10 * rand());
const lattices = new Float64Array(9 * N_CRYSTALS);
for (let c = 0; c < N_CRYSTALS; c++) {
  for (let i = 0; i < 9; i++) lattices[9 * c + i] = (i % 4 === 0 ? 5 : 0) + rand();
}
const frames = computeFrames(positions, segments, lattices, "hybrid");
const out = new Float32Array(positions.length);

Deno.bench("pcaFrames 2048 crystals × 15 atoms", { group: "frames", baseline: true }, () => {
  pcaFrames(positions, segments);
});

Deno.bench("latticeFrames 2048 cells", { group: "frames" }, () => {
  latticeFrames(lattices, N_CRYSTALS);
});

Deno.bench("computeFrames hybrid 2048 × 15", { group: "frames" }, () => {
  computeFrames(positions, segments, lattices, "hybrid");
});

Deno.bench("frameIndices stochastic + frameCoordinates 2048 × 15", { group: "frames" }, () => {
  const idx = frameIndices("stochastic", N_CRYSTALS, rand);
  frameCoordinates(positions, segments, frames.centers, frames.bases, idx, out);
});
