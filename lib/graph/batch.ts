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

/**
 * Crystals `start .. end` of a batch as a batch of their own (what `collate` gives for those
 * crystals): index arrays are rebased to the slice, value arrays are views of the batch's.
 */
export function sliceBatch(batch: GraphBatch, start: number, end: number): GraphBatch {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end)) {
    throw new RangeError(`sliceBatch: bad crystal range ${start}..${end}`);
  }
  if (end > batch.nCrystals) {
    throw new RangeError(`sliceBatch: crystals ${start}..${end} of ${batch.nCrystals}`);
  }
  const a0 = batch.crystalOffsets[start], a1 = batch.crystalOffsets[end];
  const e0 = batch.edgeOffsets[a0], e1 = batch.edgeOffsets[a1];
  return {
    nCrystals: end - start,
    nAtoms: a1 - a0,
    nEdges: e1 - e0,
    sourceIndices: batch.sourceIndices.subarray(start, end),
    ids: batch.ids.slice(start, end),
    targets: batch.targets.subarray(start, end),
    crystalOffsets: batch.crystalOffsets.slice(start, end + 1).map((o) => o - a0),
    numbers: batch.numbers.subarray(a0, a1),
    positions: batch.positions.subarray(3 * a0, 3 * a1),
    lattices: batch.lattices.subarray(9 * start, 9 * end),
    edgeOffsets: batch.edgeOffsets.slice(a0, a1 + 1).map((o) => o - e0),
    neighbors: batch.neighbors.slice(e0, e1).map((j) => j - a0),
    distances: batch.distances.subarray(e0, e1),
    vectors: batch.vectors.subarray(3 * e0, 3 * e1),
  };
}
