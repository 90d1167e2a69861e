/**
 * Subsets and splits of a featurized {@link GraphSet}: the crystals of a train/val/test part
 * copied into compact arrays, and the seeded split itself. Batching (`batch.ts`) builds on
 * these.
 * @module
 */

import type { GraphSet } from "../crystal/types.ts";
import { Rng } from "../util/random.ts";

/**
 * A graph set of the crystals `indices` (in that order), with fresh compact arrays: atom and
 * edge offsets rebased, neighbour indices unchanged (they are local to their crystal).
 *
 * @example
 * ```ts
 * import { loadGraphs, splitIndices, subsetGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:100", { cacheDir: null });
 * const [trainIdx] = splitIndices(graphs.count, [0.9, 0.1, 0], 0);
 * const train = subsetGraphs(graphs, trainIdx);
 * console.log(train.count); // 90
 * ```
 */
export function subsetGraphs(graphs: GraphSet, indices: ArrayLike<number>): GraphSet {
  const m = indices.length;
  let nAtoms = 0, nEdges = 0;
  for (let k = 0; k < m; k++) {
    const c = indices[k];
    if (!(Number.isInteger(c) && c >= 0 && c < graphs.count)) {
      throw new RangeError(`subsetGraphs: index ${c} out of range [0, ${graphs.count})`);
    }
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    nAtoms += a1 - a0;
    nEdges += graphs.edgeOffsets[a1] - graphs.edgeOffsets[a0];
  }
  const out: GraphSet = {
    count: m,
    ids: new Array(m),
    targets: new Float64Array(m),
    lattices: new Float64Array(9 * m),
    atomOffsets: new Int32Array(m + 1),
    numbers: new Int32Array(nAtoms),
    positions: new Float64Array(3 * nAtoms),
    edgeOffsets: new Int32Array(nAtoms + 1),
    neighbors: new Int32Array(nEdges),
    distances: new Float32Array(nEdges),
    vectors: new Float32Array(3 * nEdges),
    radius: graphs.radius,
    maxNeighbors: graphs.maxNeighbors,
  };
  let at = 0, et = 0;
  for (let k = 0; k < m; k++) {
    const c = indices[k];
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    const e0 = graphs.edgeOffsets[a0], e1 = graphs.edgeOffsets[a1];
    out.ids[k] = graphs.ids[c];
    out.targets[k] = graphs.targets[c];
    out.lattices.set(graphs.lattices.subarray(9 * c, 9 * c + 9), 9 * k);
    out.numbers.set(graphs.numbers.subarray(a0, a1), at);
    out.positions.set(graphs.positions.subarray(3 * a0, 3 * a1), 3 * at);
    for (let a = a0; a < a1; a++) {
      out.edgeOffsets[at + (a - a0) + 1] = graphs.edgeOffsets[a + 1] - e0 + et;
    }
    out.neighbors.set(graphs.neighbors.subarray(e0, e1), et);
    out.distances.set(graphs.distances.subarray(e0, e1), et);
    out.vectors.set(graphs.vectors.subarray(3 * e0, 3 * e1), 3 * et);
    at += a1 - a0;
    et += e1 - e0;
    out.atomOffsets[k + 1] = at;
  }
  return out;
}

/**
 * A seeded random split of `0..n-1` into parts with the given fractions (default
 * `[0.8, 0.1, 0.1]` → train/val/test). Sizes: floor(f·n) for all parts but the last, which
 * takes the rest; indices within each part are sorted ascending. Deterministic for a seed.
 *
 * @example
 * ```ts
 * import { splitIndices } from "@facgcnn/toolkit";
 * const [train, val, test] = splitIndices(100, [0.8, 0.1, 0.1], 0);
 * console.log(train.length, val.length, test.length); // 80 10 10
 * ```
 */
export function splitIndices(
  n: number,
  fractions: readonly number[] = [0.8, 0.1, 0.1],
  seed = 0,
): Int32Array[] {
  if (!(Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`splitIndices: n must be an integer ≥ 0, got ${n}`);
  }
  const sum = fractions.reduce((a, b) => a + b, 0);
  if (fractions.length === 0 || fractions.some((f) => !(f >= 0)) || Math.abs(sum - 1) > 1e-6) {
    throw new RangeError(
      `splitIndices: fractions must be ≥ 0 and sum to 1, got [${fractions.join(", ")}]`,
    );
  }
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  new Rng(seed).shuffle(perm);
  const parts: Int32Array[] = [];
  let at = 0;
  for (let p = 0; p < fractions.length; p++) {
    const size = p === fractions.length - 1 ? n - at : Math.floor(fractions[p] * n);
    parts.push(perm.slice(at, at + size).sort());
    at += size;
  }
  return parts;
}
