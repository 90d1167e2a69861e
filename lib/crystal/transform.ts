/**
 * Rigid transforms of crystals for the random-rotation test: uniform random O(3) matrices and
 * their action on structures (lattice rows rotated, atoms shifted) and on featurized graphs.
 * @module
 */

import { Rng } from "../util/random.ts";
import type { GraphSet, Structure } from "./types.ts";

/**
 * A uniformly distributed (Haar) orthogonal 3×3 matrix, row-major: the Q of a Gaussian
 * matrix's QR decomposition with the signs fixed so that R has a positive diagonal (which
 * makes Q Haar on O(3)); proper and improper with probability 1/2 each.
 *
 * @example
 * ```ts
 * import { randomOrthogonal, Rng } from "@facgcnn/toolkit";
 * const R = randomOrthogonal(new Rng(3)); // 9 numbers, row-major, RᵀR = I
 * console.log(R.length); // 9
 * ```
 */
export function randomOrthogonal(rng: Rng): Float64Array {
  const a = Array.from({ length: 3 }, () => [rng.normal(), rng.normal(), rng.normal()]);
  // Gram–Schmidt on the columns of a gives Q with positive diag(R).
  const q: number[][] = [];
  for (let j = 0; j < 3; j++) {
    const v = [a[0][j], a[1][j], a[2][j]];
    for (const u of q) {
      const d = v[0] * u[0] + v[1] * u[1] + v[2] * u[2];
      for (let i = 0; i < 3; i++) v[i] -= d * u[i];
    }
    const n = Math.hypot(v[0], v[1], v[2]);
    q.push(v.map((x) => x / n));
  }
  const out = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out[3 * i + j] = q[j][i];
  return out;
}

/** `v·R` for row vectors stored 3 per item (in place). */
function rotateRows(
  v: Float64Array | Float32Array,
  r: Float64Array,
  start = 0,
  end = v.length / 3,
): void {
  for (let i = start; i < end; i++) {
    const x = v[3 * i], y = v[3 * i + 1], z = v[3 * i + 2];
    v[3 * i] = x * r[0] + y * r[3] + z * r[6];
    v[3 * i + 1] = x * r[1] + y * r[4] + z * r[7];
    v[3 * i + 2] = x * r[2] + y * r[5] + z * r[8];
  }
}

/**
 * The structure rotated by R (Cartesian X → X·R: lattice rows L → L·R, fractional
 * coordinates unchanged) and translated by a fractional `shift` (atoms wrapped into the cell).
 *
 * @example
 * ```ts
 * import { randomOrthogonal, Rng, syntheticCrystals, transformStructure } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const rotated = transformStructure(s, randomOrthogonal(new Rng(1))); // no translation
 * ```
 */
export function transformStructure(
  s: Structure,
  rotation: Float64Array,
  shift: ArrayLike<number> = [0, 0, 0],
): Structure {
  const lattice = s.lattice.slice();
  rotateRows(lattice, rotation);
  const frac = s.frac.slice();
  for (let i = 0; i < frac.length; i++) {
    const f = frac[i] + shift[i % 3];
    frac[i] = f - Math.floor(f);
  }
  return { id: s.id, lattice, frac, numbers: s.numbers.slice() };
}

/**
 * `structure` under a random O(3) rotation and a random translation (seeded).
 *
 * @example
 * ```ts
 * import { randomlyTransformStructure, Rng, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const moved = randomlyTransformStructure(s, new Rng(7));
 * ```
 */
export function randomlyTransformStructure(s: Structure, rng: Rng): Structure {
  return transformStructure(s, randomOrthogonal(rng), [rng.next(), rng.next(), rng.next()]);
}

/**
 * A copy of a graph set with every crystal under its own random O(3) rotation and random
 * Cartesian translation (up to 10 Å per axis): positions X·R + t, edge vectors v·R, lattices
 * L·R; distances and neighbours unchanged. Equivalent to transforming the structures and
 * featurizing again, without the neighbour search.
 *
 * @example
 * ```ts
 * import { loadGraphs, randomlyTransformGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:50", { cacheDir: null });
 * const rotated = randomlyTransformGraphs(graphs, 1); // rotate + translate every crystal
 * ```
 */
export function randomlyTransformGraphs(graphs: GraphSet, seed: number): GraphSet {
  const rng = new Rng(seed, 77);
  const out: GraphSet = {
    ...graphs,
    positions: graphs.positions.slice(),
    vectors: graphs.vectors.slice(),
    lattices: graphs.lattices.slice(),
  };
  for (let c = 0; c < graphs.count; c++) {
    const r = randomOrthogonal(rng);
    const t = [10 * rng.next(), 10 * rng.next(), 10 * rng.next()];
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    rotateRows(out.positions, r, a0, a1);
    for (let a = a0; a < a1; a++) for (let k = 0; k < 3; k++) out.positions[3 * a + k] += t[k];
    rotateRows(out.vectors, r, graphs.edgeOffsets[a0], graphs.edgeOffsets[a1]);
    rotateRows(out.lattices, r, 3 * c, 3 * c + 3);
  }
  return out;
}
