/**
 * Shared fixtures of the model tests: featurized synthetic and real crystals, model weights
 * as float64 maps, and non-trivial BatchNorm parameters/statistics.
 * @module
 */

import { loadDataset } from "../../lib/data/dataset.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import type { Dataset, GraphSet } from "../../lib/crystal/types.ts";
import type { Model } from "../../lib/models/model.ts";
import { seededRng } from "../helpers/numeric.ts";
import type { RefWeights } from "./_reference.ts";

/** Folder of real COD CIFs in CGCNN layout (read in place when present). */
export const CGCNN_SAMPLE = new URL("../../../shared/reference/cgcnn-sample", import.meta.url)
  .pathname;

/** Featurizes a data set without the cache and without output. */
export async function graphsOf(
  dataset: Dataset,
  options: { radius?: number; maxNeighbors?: number } = {},
): Promise<GraphSet> {
  const { graphs } = await featurize(dataset, { ...options, cacheDir: null, quiet: true });
  return graphs;
}

/** `count` synthetic crystals (prototypes, including cubic cells, and random ones). */
export function syntheticGraphs(count: number, seed: number): Promise<GraphSet> {
  return graphsOf(syntheticCrystals({ count, seed }));
}

/** The real CIFs of {@link CGCNN_SAMPLE}, or null when the folder is absent. */
export async function sampleGraphs(): Promise<GraphSet | null> {
  try {
    await Deno.stat(`${CGCNN_SAMPLE}/id_prop.csv`);
  } catch {
    return null;
  }
  return graphsOf(await loadDataset(CGCNN_SAMPLE, { quiet: true }));
}

/** Parameters and buffers of a model as float64 arrays by dotted name. */
export function weightsOf(model: Model): RefWeights {
  const out: RefWeights = new Map();
  for (const [name, { data }] of model.network.stateDict()) out.set(name, Float64Array.from(data));
  return out;
}

/**
 * Gives every BatchNorm layer non-trivial γ, β, running mean and running variance (the
 * initial 1, 0, 0, 1 would hide a swapped γ/β or a mean/variance mix-up), in the model.
 */
export function perturbBatchNorm(model: Model, seed: number): void {
  const rng = seededRng(seed);
  const state = model.network.stateDict();
  for (const [name, entry] of state) {
    if (!/\.bn[12]\./.test(name)) continue;
    const d = entry.data;
    for (let i = 0; i < d.length; i++) {
      const u = rng();
      if (name.endsWith(".weight")) d[i] = 0.5 + u; // γ ∈ [0.5, 1.5)
      else if (name.endsWith(".bias")) d[i] = u - 0.5; // β ∈ [−0.5, 0.5)
      else if (name.endsWith(".running_mean")) d[i] = 2 * u - 1;
      else if (name.endsWith(".running_var")) d[i] = 0.25 + 2 * u;
    }
  }
  model.network.loadStateDict(state);
}

/** Every crystal index of a graph set. */
export function allIndices(graphs: GraphSet): Int32Array {
  return Int32Array.from({ length: graphs.count }, (_, i) => i);
}
