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
 * A rigid O(3) change of the coordinate system: Cartesian X → X·R, so the lattice rows
 * L → L·R and the Cartesian positions rotate together; the fractional coordinates are
 * unchanged (copied as they are, not wrapped). This is the paper's rotation test: the same
 * crystal, the same cell and the same atoms, seen in rotated axes.
 *
 * @example
 * ```ts
 * import { randomOrthogonal, rotateStructure, Rng, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const r = rotateStructure(s, randomOrthogonal(new Rng(1)));
 * console.log(r.frac.every((f, i) => f === s.frac[i])); // true
 * ```
 */
export function rotateStructure(s: Structure, rotation: Float64Array): Structure {
  const lattice = s.lattice.slice();
  rotateRows(lattice, rotation);
  return { id: s.id, lattice, frac: s.frac.slice(), numbers: s.numbers.slice() };
}

/**
 * The same periodic crystal described from another cell origin: fractional coordinates
 * f → f + shift, wrapped into [0, 1). Distances, neighbours and CGCNN's graph do not change,
 * but the stored point cloud does (atoms cross the cell faces), so its centroid and PCA
 * frame move: PCA frames belong to one choice of origin and wrapping, not to the crystal.
 *
 * @example
 * ```ts
 * import { shiftOrigin, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const moved = shiftOrigin(s, [0.5, 0.25, 0]);
 * ```
 */
export function shiftOrigin(s: Structure, shift: ArrayLike<number>): Structure {
  const frac = s.frac.slice();
  for (let i = 0; i < frac.length; i++) {
    const f = frac[i] + shift[i % 3];
    frac[i] = f - Math.floor(f);
  }
  return { id: s.id, lattice: s.lattice.slice(), frac, numbers: s.numbers.slice() };
}

/**
 * The structure rotated by R ({@linkcode rotateStructure}) and, when a non-zero `shift` is
 * given, with its origin shifted by that fractional vector and the atoms wrapped into the
 * cell ({@linkcode shiftOrigin}).
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
  const r = rotateStructure(s, rotation);
  return shift[0] === 0 && shift[1] === 0 && shift[2] === 0 ? r : shiftOrigin(r, shift);
}

/**
 * `structure` under a random O(3) rotation of the coordinate system (seeded); fractional
 * coordinates unchanged. What `predict --rotate` applies.
 *
 * @example
 * ```ts
 * import { randomlyRotateStructure, Rng, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const rotated = randomlyRotateStructure(s, new Rng(7));
 * ```
 */
export function randomlyRotateStructure(s: Structure, rng: Rng): Structure {
  return rotateStructure(s, randomOrthogonal(rng));
}

/**
 * `structure` with a uniformly random origin shift, atoms wrapped into the cell (seeded).
 * What `predict --shift-origin` applies.
 *
 * @example
 * ```ts
 * import { randomlyShiftOrigin, Rng, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const shifted = randomlyShiftOrigin(s, new Rng(7));
 * ```
 */
export function randomlyShiftOrigin(s: Structure, rng: Rng): Structure {
  return shiftOrigin(s, [rng.next(), rng.next(), rng.next()]);
}

/**
 * `structure` under a random O(3) rotation and a random origin shift with wrapping (seeded):
 * {@linkcode randomlyRotateStructure} then {@linkcode randomlyShiftOrigin}.
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

/**
 * A copy of a graph set with every crystal's origin randomly shifted and its atoms wrapped
 * back into the cell: positions x → (wrap(f + s))·L with f = x·L⁻¹; lattices, neighbours,
 * distances and edge vectors are unchanged (the periodic crystal is the same). Only the
 * stored point cloud moves, so only quantities of that cloud (the centroid, PCA frames,
 * w/o-FA coordinates) can change.
 *
 * @example
 * ```ts
 * import { loadGraphs, randomlyShiftGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:50", { cacheDir: null });
 * const shifted = randomlyShiftGraphs(graphs, 1);
 * ```
 */
export function randomlyShiftGraphs(graphs: GraphSet, seed: number): GraphSet {
  const rng = new Rng(seed, 78);
  const positions = graphs.positions.slice();
  const inv = new Float64Array(9);
  for (let c = 0; c < graphs.count; c++) {
    const L = graphs.lattices.subarray(9 * c, 9 * c + 9);
    invert3(L, inv);
    const sh = [rng.next(), rng.next(), rng.next()];
    for (let a = graphs.atomOffsets[c]; a < graphs.atomOffsets[c + 1]; a++) {
      const x = positions[3 * a], y = positions[3 * a + 1], z = positions[3 * a + 2];
      const f = [0, 1, 2].map((k) => {
        const v = x * inv[k] + y * inv[3 + k] + z * inv[6 + k] + sh[k];
        return v - Math.floor(v);
      });
      for (let k = 0; k < 3; k++) {
        positions[3 * a + k] = f[0] * L[k] + f[1] * L[3 + k] + f[2] * L[6 + k];
      }
    }
  }
  return { ...graphs, positions };
}

/** Inverse of a row-major 3×3 into `out` (adjugate / determinant). */
function invert3(m: ArrayLike<number>, out: Float64Array): void {
  const c00 = m[4] * m[8] - m[5] * m[7], c01 = m[5] * m[6] - m[3] * m[8];
  const c02 = m[3] * m[7] - m[4] * m[6];
  const det = m[0] * c00 + m[1] * c01 + m[2] * c02;
  out[0] = c00 / det;
  out[1] = (m[2] * m[7] - m[1] * m[8]) / det;
  out[2] = (m[1] * m[5] - m[2] * m[4]) / det;
  out[3] = c01 / det;
  out[4] = (m[0] * m[8] - m[2] * m[6]) / det;
  out[5] = (m[2] * m[3] - m[0] * m[5]) / det;
  out[6] = c02 / det;
  out[7] = (m[1] * m[6] - m[0] * m[7]) / det;
  out[8] = (m[0] * m[4] - m[1] * m[3]) / det;
}
