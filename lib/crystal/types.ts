/**
 * The data types of the input side: structures, neighbour lists, data sets and the
 * featurized graph set that batches are cut from.
 * @module
 */

/**
 * One crystal: lattice rows a, b, c (Å), fractional coordinates, atomic numbers.
 *
 * @example
 * ```ts
 * import { formula, type Structure } from "@facgcnn/toolkit";
 * const nacl: Structure = {
 *   id: "NaCl",
 *   lattice: new Float64Array([5.64, 0, 0, 0, 5.64, 0, 0, 0, 5.64]),
 *   frac: new Float64Array([0, 0, 0, 0.5, 0.5, 0.5]),
 *   numbers: new Int32Array([11, 17]),
 * };
 * console.log(formula(nacl)); // "NaCl"
 * ```
 */
export interface Structure {
  /** Identifier (file stem, CSV id, HDF5 index). */
  id: string;
  /** 9 numbers: rows a, b, c in Å (row-major), so that X = frac · L. */
  lattice: Float64Array;
  /** 3 fractional coordinates per atom. */
  frac: Float64Array;
  /** Atomic number per atom. */
  numbers: Int32Array;
}

/**
 * Periodic neighbours of every atom of one structure, as CSR over centre atoms.
 */
export interface NeighborList {
  /** `[nAtoms + 1]`: edges of atom i are `offsets[i] .. offsets[i+1]`, nearest first. */
  offsets: Int32Array;
  /** `[nEdges]`: index of the neighbour atom j (its periodic image is implied by `vectors`). */
  neighbors: Int32Array;
  /** `[nEdges]`: distance |x_j(image) − x_i| in Å. */
  distances: Float32Array | Float64Array;
  /** `[nEdges, 3]`: x_j(image) − x_i in Å (Cartesian). */
  vectors: Float32Array | Float64Array;
}

/**
 * One labelled structure of a data set.
 */
export interface DatasetEntry {
  /** Identifier of the entry (same as the structure id). */
  id: string;
  /** The crystal. */
  structure: Structure;
  /** The regression target (e.g. formation energy, eV/atom). */
  target: number;
}

/**
 * A structure that a loader could not use, and why (names the file/line/id).
 */
export interface SkippedEntry {
  /** Identifier of the structure (file, row or index). */
  id: string;
  /** Why it was skipped. */
  reason: string;
  /** Where it was dropped: `"load"` (reader) or `"featurize"` (no graph); absent if unknown. */
  stage?: "load" | "featurize";
}

/**
 * A labelled set of structures, loaded from files or generated.
 *
 * @example
 * ```ts
 * import { type Dataset, syntheticCrystals } from "@facgcnn/toolkit";
 * const data: Dataset = syntheticCrystals({ count: 10, seed: 0 });
 * for (let i = 0; i < data.length; i++) console.log(data.get(i).id, data.get(i).target);
 * ```
 */
export interface Dataset {
  /** Number of entries. */
  readonly length: number;
  /** Entry `i` (0-based); throws outside `0 .. length − 1`. */
  get(i: number): DatasetEntry;
  /** Structures left out while loading, each with the reason. */
  readonly skipped: SkippedEntry[];
  /** Where the data came from (path or `synthetic:N`), for reports. */
  readonly source?: string;
}

/**
 * A whole data set featurized into concatenated typed arrays (no per-edge objects).
 * Crystal c owns atoms `atomOffsets[c] .. atomOffsets[c+1]`; atom a (global index) owns edges
 * `edgeOffsets[a] .. edgeOffsets[a+1]`. Neighbour indices are local to their crystal.
 * Gaussian edge features and the 92-long atom features are not stored: they are cheap to
 * compute at batch time from `distances` and `numbers`.
 *
 * @example
 * ```ts
 * import { type GraphSet, loadGraphs } from "@facgcnn/toolkit";
 * const graphs: GraphSet = (await loadGraphs("synthetic:20", { cacheDir: null })).graphs;
 * console.log(graphs.count, graphs.atomOffsets[graphs.count]); // crystals, atoms
 * ```
 */
export interface GraphSet {
  /** Number of crystals. */
  count: number;
  /** `[count]` identifiers. */
  ids: string[];
  /** `[count]` targets. */
  targets: Float64Array;
  /** `[count, 9]` lattices (rows a, b, c). */
  lattices: Float64Array;
  /** `[count + 1]` atom ranges per crystal. */
  atomOffsets: Int32Array;
  /** `[nAtoms]` atomic numbers. */
  numbers: Int32Array;
  /** `[nAtoms, 3]` Cartesian positions (Å). */
  positions: Float64Array;
  /** `[nAtoms + 1]` global edge ranges per atom. */
  edgeOffsets: Int32Array;
  /** `[nEdges]` neighbour atom index, local to the crystal. */
  neighbors: Int32Array;
  /** `[nEdges]` distances (Å). */
  distances: Float32Array;
  /** `[nEdges, 3]` x_j(image) − x_i (Å). */
  vectors: Float32Array;
  /** Options the graphs were built with. */
  radius: number;
  /** Maximum neighbours per atom the graphs were built with. */
  maxNeighbors: number;
}
