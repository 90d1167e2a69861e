/**
 * Rigid motions of structures for the invariance tests: a random O(3) matrix R (proper or
 * improper), applied to the lattice rows (L → L·R, so X = frac·L → X·R), a translation as
 * a shift of the fractional coordinates (not wrapped: the point cloud moves rigidly), and
 * an atom permutation.
 * @module
 */

import type { Structure } from "../../lib/crystal/types.ts";

/** A uniformly random rotation (unit quaternion), times −I when `improper`. Row-major. */
export function randomOrthogonal(rng: () => number, improper: boolean): Float64Array {
  // Shoemake's uniform unit quaternion.
  const u1 = rng(), u2 = 2 * Math.PI * rng(), u3 = 2 * Math.PI * rng();
  const a = Math.sqrt(1 - u1), b = Math.sqrt(u1);
  const [w, x, y, z] = [a * Math.sin(u2), a * Math.cos(u2), b * Math.sin(u3), b * Math.cos(u3)];
  const R = Float64Array.from([
    1 - 2 * (y * y + z * z),
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    1 - 2 * (x * x + z * z),
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    1 - 2 * (x * x + y * y),
  ]);
  if (improper) { for (let i = 0; i < 9; i++) R[i] = -R[i]; }
  return R;
}

/** det of a row-major 3×3. */
export function det3(m: ArrayLike<number>): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
    m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/** Options of {@link transformStructure}. */
export interface Motion {
  /** O(3) matrix (row-major) acting on row vectors: x → x·R. */
  rotation?: Float64Array;
  /** Fractional shift added to every atom (not wrapped). */
  shift?: ArrayLike<number>;
  /** New order: atom i of the result is atom `permutation[i]` of the input. */
  permutation?: ArrayLike<number>;
}

/** The structure moved rigidly (and its atoms reordered). */
export function transformStructure(s: Structure, m: Motion): Structure {
  const n = s.numbers.length;
  const L = s.lattice;
  let lattice = Float64Array.from(L);
  if (m.rotation) {
    const R = m.rotation;
    lattice = new Float64Array(9);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let v = 0;
        for (let k = 0; k < 3; k++) v += L[3 * i + k] * R[3 * k + j];
        lattice[3 * i + j] = v;
      }
    }
  }
  const perm = m.permutation ?? Array.from({ length: n }, (_, i) => i);
  const frac = new Float64Array(3 * n);
  const numbers = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = perm[i];
    numbers[i] = s.numbers[src];
    for (let k = 0; k < 3; k++) frac[3 * i + k] = s.frac[3 * src + k] + (m.shift?.[k] ?? 0);
  }
  return { id: s.id, lattice, frac, numbers };
}

/** A uniformly random permutation of 0..n−1 (Fisher–Yates). */
export function randomPermutation(rng: () => number, n: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** A random rigid motion + permutation of an n-atom structure; improper on request. */
export function randomMotion(rng: () => number, n: number, improper: boolean): Motion {
  return {
    rotation: randomOrthogonal(rng, improper),
    shift: [4 * rng() - 2, 4 * rng() - 2, 4 * rng() - 2],
    permutation: randomPermutation(rng, n),
  };
}
