/**
 * `collate`: cuts a batch of crystals out of a featurized `GraphSet` into one disconnected
 * graph (atom offsets, CSR edges with global neighbour indices, crystal segments).
 * Host arrays only; one pass of typed-array copies, no per-edge objects.
 * @module
 */

import type { GraphSet } from "../crystal/types.ts";

/** A batch of crystals as one graph (host arrays). */
export interface GraphBatch {
  nCrystals: number;
  nAtoms: number;
  nEdges: number;
  /** Indices of the crystals in the source `GraphSet`. */
  sourceIndices: Int32Array;
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

/** Builds the batch of crystals `indices` (in that order) from `graphs`. */
export function collate(graphs: GraphSet, indices: ArrayLike<number>): GraphBatch {
  const nCrystals = indices.length;
  let nAtoms = 0, nEdges = 0;
  for (let i = 0; i < nCrystals; i++) {
    const c = indices[i];
    if (!(c >= 0 && c < graphs.count)) {
      throw new RangeError(`collate: crystal index ${c} outside 0..${graphs.count - 1}`);
    }
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    nAtoms += a1 - a0;
    nEdges += graphs.edgeOffsets[a1] - graphs.edgeOffsets[a0];
  }
  const b: GraphBatch = {
    nCrystals,
    nAtoms,
    nEdges,
    sourceIndices: Int32Array.from(indices),
    ids: new Array(nCrystals),
    targets: new Float64Array(nCrystals),
    crystalOffsets: new Int32Array(nCrystals + 1),
    numbers: new Int32Array(nAtoms),
    positions: new Float64Array(3 * nAtoms),
    lattices: new Float64Array(9 * nCrystals),
    edgeOffsets: new Int32Array(nAtoms + 1),
    neighbors: new Int32Array(nEdges),
    distances: new Float32Array(nEdges),
    vectors: new Float32Array(3 * nEdges),
  };
  let atomAt = 0, edgeAt = 0;
  for (let i = 0; i < nCrystals; i++) {
    const c = indices[i];
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    const e0 = graphs.edgeOffsets[a0], e1 = graphs.edgeOffsets[a1];
    b.ids[i] = graphs.ids[c];
    b.targets[i] = graphs.targets[c];
    b.lattices.set(graphs.lattices.subarray(9 * c, 9 * c + 9), 9 * i);
    b.numbers.set(graphs.numbers.subarray(a0, a1), atomAt);
    b.positions.set(graphs.positions.subarray(3 * a0, 3 * a1), 3 * atomAt);
    for (let a = a0; a < a1; a++) {
      b.edgeOffsets[atomAt + (a - a0) + 1] = edgeAt + graphs.edgeOffsets[a + 1] - e0;
    }
    for (let e = e0; e < e1; e++) b.neighbors[edgeAt + e - e0] = graphs.neighbors[e] + atomAt;
    b.distances.set(graphs.distances.subarray(e0, e1), edgeAt);
    b.vectors.set(graphs.vectors.subarray(3 * e0, 3 * e1), 3 * edgeAt);
    atomAt += a1 - a0;
    edgeAt += e1 - e0;
    b.crystalOffsets[i + 1] = atomAt;
  }
  return b;
}
