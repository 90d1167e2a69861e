/**
 * `collate`: cuts a batch of crystals out of a featurized `GraphSet` into one disconnected
 * graph (atom offsets, CSR edges with global neighbour indices, crystal segments).
 * Host arrays only: `subsetGraphs` copies the crystals, then neighbour indices are made global.
 * @module
 */

import { subsetGraphs } from "./subset.ts";
import type { GraphSet } from "../crystal/types.ts";

/**
 * A batch of crystals as one graph (host arrays).
 *
 * @example
 * ```ts
 * import { collate, createModel, type GraphBatch, loadGraphs, tidy } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:8", { cacheDir: null });
 * const batch: GraphBatch = collate(graphs, [0, 1, 2, 3]);
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * const out = tidy(() => model.forward(batch).toFloat32Array()); // 4 standardised outputs
 * model.dispose();
 * ```
 */
export interface GraphBatch {
  /** Crystals in the batch. */
  nCrystals: number;
  /** Atoms in the batch. */
  nAtoms: number;
  /** Edges in the batch. */
  nEdges: number;
  /** Indices of the crystals in the source `GraphSet`. */
  sourceIndices: Int32Array;
  /** `[nCrystals]` identifiers. */
  ids: string[];
  /** `[nCrystals]` targets (original scale). */
  targets: Float64Array;
  /** `[nCrystals + 1]` atom ranges per crystal. */
  crystalOffsets: Int32Array;
  /** `[nAtoms]` atomic numbers. */
  numbers: Int32Array;
  /** `[nAtoms, 3]` Cartesian positions (Å). */
  positions: Float64Array;
  /** `[nCrystals, 9]` lattices. */
  lattices: Float64Array;
  /** `[nAtoms + 1]` edge ranges per centre atom (edges sorted by centre). */
  edgeOffsets: Int32Array;
  /** `[nEdges]` neighbour atom index within the batch. */
  neighbors: Int32Array;
  /** `[nEdges]` distances (Å). */
  distances: Float32Array;
  /** `[nEdges, 3]` x_j(image) − x_i (Å). */
  vectors: Float32Array;
}

/**
 * Builds the batch of crystals `indices` (in that order) from `graphs`.
 *
 * @example
 * ```ts
 * import { collate, loadGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:50", { cacheDir: null });
 * const batch = collate(graphs, [0, 1, 2, 3]);
 * console.log(batch.nCrystals, batch.nAtoms, batch.nEdges);
 * ```
 */
export function collate(graphs: GraphSet, indices: ArrayLike<number>): GraphBatch {
  const sub = subsetGraphs(graphs, indices);
  // Neighbour indices are local to their crystal in a GraphSet; in a batch they index the
  // batch's atoms.
  const neighbors = sub.neighbors;
  for (let c = 0; c < sub.count; c++) {
    const base = sub.atomOffsets[c];
    const e1 = sub.edgeOffsets[sub.atomOffsets[c + 1]];
    for (let e = sub.edgeOffsets[base]; e < e1; e++) neighbors[e] += base;
  }
  return {
    nCrystals: sub.count,
    nAtoms: sub.numbers.length,
    nEdges: neighbors.length,
    sourceIndices: Int32Array.from(indices),
    ids: sub.ids,
    targets: sub.targets,
    crystalOffsets: sub.atomOffsets,
    numbers: sub.numbers,
    positions: sub.positions,
    lattices: sub.lattices,
    edgeOffsets: sub.edgeOffsets,
    neighbors,
    distances: sub.distances,
    vectors: sub.vectors,
  };
}
