/**
 * Rotation invariance of FACGCNN with all 8 frames, for each frame base: PCA (the paper),
 * lattice (polar factor of the cell) and hybrid (PCA where its eigengap is clear, lattice
 * otherwise). Each crystal is rotated by a random O(3) matrix; the table gives the largest
 * prediction change over crystals with a well-defined PCA frame and over the degenerate ones.
 * The models are untrained (invariance does not depend on the weights).
 *
 *   deno run -A examples/compare_frames.ts [--count 80] [--seed 0]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  cartesian,
  createModel,
  type FrameKind,
  pcaFrames,
  randomOrthogonal,
  Rng,
  syntheticCrystals,
  transformStructure,
} from "../mod.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: Deno.env.get("EXAMPLE_COUNT") ?? "80" },
    seed: { type: "string", default: "0" },
    device: { type: "string", default: Deno.env.get("EXAMPLE_DEVICE") ?? "cpu" },
  },
});

const data = syntheticCrystals({ count: Number(flags.count), seed: Number(flags.seed) + 100 });
const structures = Array.from({ length: data.length }, (_, i) => data.get(i).structure);
const rng = new Rng(Number(flags.seed), 5);
const rotated = structures.map((s) => transformStructure(s, randomOrthogonal(rng)));
const degenerate = structures.map((s) =>
  pcaFrames(cartesian(s), Int32Array.of(0, s.numbers.length)).degenerate[0] === 1
);
const nDeg = degenerate.filter(Boolean).length;
console.log(
  `${structures.length} crystals, ${nDeg} with a degenerate PCA frame; max |Δ prediction| after a random rotation (8 frames):`,
);
console.log("frame kind | non-degenerate | degenerate PCA | all");
let failed = false;
for (const frameKind of ["pca", "lattice", "hybrid"] as FrameKind[]) {
  const model = createModel({
    kind: "facgcnn",
    frameKind,
    frames: "all",
    atomFeaLen: 32,
    seed: 1,
    device: flags.device as "cpu" | "cuda" | "auto",
  });
  const a = await model.predict(structures, { frames: "all" });
  const b = await model.predict(rotated, { frames: "all" });
  model.dispose();
  let non = 0, deg = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (degenerate[i]) deg = Math.max(deg, d);
    else non = Math.max(non, d);
  }
  const e = (x: number) => x.toExponential(2).padStart(14);
  console.log(`${frameKind.padEnd(10)} | ${e(non)} | ${e(deg)} | ${e(Math.max(non, deg))}`);
  if (non > 1e-4) failed = true;
}
if (failed) {
  console.error("a non-degenerate crystal changed by more than 1e-4 under rotation");
  Deno.exit(1);
}
