/**
 * Lattice maths on row-major 3×3 matrices (rows a, b, c in Å, so that X = frac · L):
 * construction from cell parameters, volume, heights, inverse, Cartesian/fractional
 * conversion, and a chemical formula helper.
 * @module
 */

import { elementSymbol } from "./symbols.ts";
import type { Structure } from "./types.ts";

/**
 * Cell parameters: edge lengths in Å, angles in degrees (α = ∠(b, c), β = ∠(a, c), γ = ∠(a, b)).
 */
export interface LatticeParameters {
  /** |a| in Å. */
  a: number;
  /** |b| in Å. */
  b: number;
  /** |c| in Å. */
  c: number;
  /** ∠(b, c) in degrees. */
  alpha: number;
  /** ∠(a, c) in degrees. */
  beta: number;
  /** ∠(a, b) in degrees. */
  gamma: number;
}

const DEG = Math.PI / 180;

// Exact values for the common right/hexagonal angles, so that e.g. cubic cells come out exactly
// diagonal (Math.cos(π/2) is 6e-17, which would give exact-symmetry data a tiny tilt).
function cosDeg(x: number): number {
  if (x === 90) return 0;
  if (x === 60) return 0.5;
  if (x === 120) return -0.5;
  return Math.cos(x * DEG);
}
function sinDeg(x: number): number {
  return x === 90 ? 1 : Math.sin(x * DEG);
}

/**
 * Lattice `[9]` (rows a, b, c) from cell parameters, in pymatgen's `Lattice.from_parameters`
 * convention: c along z, a in the xz-plane. With cos γ* = (cos α cos β − cos γ)/(sin α sin β)
 * (clipped to [−1, 1]): a = (a sin β, 0, a cos β), b = (−b sin α cos γ*, b sin α sin γ*, b cos α),
 * c = (0, 0, c). Differences from pymatgen are at the 1e-16 level only: cos 90° is taken as
 * exactly 0 (also 60°, 120°) and sin γ* as √(1 − cos²γ*), so right-angled cells are exactly
 * orthogonal. Angles in degrees. Impossible angle triples give a zero-volume lattice (caught by
 * {@linkcode validateLattice}), not NaN.
 *
 * @example
 * ```ts
 * import { latticeFromParameters } from "@facgcnn/toolkit";
 * const L = latticeFromParameters(5.64, 5.64, 5.64, 90, 90, 90); // rows a, b, c (Å)
 * console.log(L[0], L[4], L[8]); // 5.64 5.64 5.64
 * ```
 */
export function latticeFromParameters(
  a: number,
  b: number,
  c: number,
  alpha: number,
  beta: number,
  gamma: number,
): Float64Array {
  const ca = cosDeg(alpha), cb = cosDeg(beta), cg = cosDeg(gamma);
  const sa = sinDeg(alpha), sb = sinDeg(beta);
  let cosGs = (ca * cb - cg) / (sa * sb);
  cosGs = cosGs > 1 ? 1 : cosGs < -1 ? -1 : cosGs;
  const sinGs = Math.sqrt(1 - cosGs * cosGs);
  // `+ 0` turns −0 into 0, so that exactly orthogonal cells compare equal element-wise.
  return Float64Array.of(
    a * sb,
    0,
    a * cb + 0,
    -b * sa * cosGs + 0,
    b * sa * sinGs,
    b * ca + 0,
    0,
    0,
    c,
  );
}

/**
 * Cell parameters (lengths in Å, angles in degrees) of a lattice `[9]`.
 *
 * @example
 * ```ts
 * import { latticeParameters, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const { a, b, c, alpha, beta, gamma } = latticeParameters(s.lattice);
 * ```
 */
export function latticeParameters(lattice: ArrayLike<number>): LatticeParameters {
  const l = lattice;
  const len = (i: number) => Math.hypot(l[i], l[i + 1], l[i + 2]);
  const a = len(0), b = len(3), c = len(6);
  const ang = (i: number, j: number, ni: number, nj: number) =>
    Math.acos(
      Math.max(
        -1,
        Math.min(1, (l[i] * l[j] + l[i + 1] * l[j + 1] + l[i + 2] * l[j + 2]) / (ni * nj)),
      ),
    ) / DEG;
  return { a, b, c, alpha: ang(3, 6, b, c), beta: ang(0, 6, a, c), gamma: ang(0, 3, a, b) };
}

/**
 * Signed volume a · (b × c) in Å³ of a lattice `[9]` (negative for a left-handed basis).
 *
 * @example
 * ```ts
 * import { latticeFromParameters, latticeVolume } from "@facgcnn/toolkit";
 * console.log(latticeVolume(latticeFromParameters(2, 3, 4, 90, 90, 90))); // 24
 * ```
 */
export function latticeVolume(lattice: ArrayLike<number>): number {
  const l = lattice;
  return l[0] * (l[4] * l[8] - l[5] * l[7]) - l[1] * (l[3] * l[8] - l[5] * l[6]) +
    l[2] * (l[3] * l[7] - l[4] * l[6]);
}

/**
 * Lattice heights `[3]` in Å: the spacing between neighbouring lattice planes spanned by
 * (b, c), (c, a), (a, b), i.e. |V| / |b × c| etc. A sphere of radius r meets
 * ceil(r / height) planes on each side, which fixes the periodic image range per axis.
 */
export function latticeHeights(lattice: ArrayLike<number>): Float64Array {
  const l = lattice;
  const v = Math.abs(latticeVolume(l));
  const cross = (p: number, q: number) =>
    Math.hypot(
      l[p + 1] * l[q + 2] - l[p + 2] * l[q + 1],
      l[p + 2] * l[q] - l[p] * l[q + 2],
      l[p] * l[q + 1] - l[p + 1] * l[q],
    );
  return Float64Array.of(v / cross(3, 6), v / cross(6, 0), v / cross(0, 3));
}

/** Inverse `[9]` of a lattice `[9]` (row-major), so that frac = X · L⁻¹. */
export function inverseLattice(lattice: ArrayLike<number>): Float64Array {
  const l = lattice;
  const det = latticeVolume(l);
  if (!(Math.abs(det) > 0) || !Number.isFinite(det)) {
    throw new RangeError(`lattice is singular (volume ${det})`);
  }
  const r = 1 / det;
  return Float64Array.of(
    (l[4] * l[8] - l[5] * l[7]) * r,
    (l[2] * l[7] - l[1] * l[8]) * r,
    (l[1] * l[5] - l[2] * l[4]) * r,
    (l[5] * l[6] - l[3] * l[8]) * r,
    (l[0] * l[8] - l[2] * l[6]) * r,
    (l[2] * l[3] - l[0] * l[5]) * r,
    (l[3] * l[7] - l[4] * l[6]) * r,
    (l[1] * l[6] - l[0] * l[7]) * r,
    (l[0] * l[4] - l[1] * l[3]) * r,
  );
}

/**
 * Throws a `RangeError` naming `id` unless the lattice `[9]` is finite with a positive volume
 * (relative to a·b·c, so that near-flat cells from impossible angles are caught too).
 */
export function validateLattice(lattice: ArrayLike<number>, id = "structure"): void {
  if (lattice.length !== 9) {
    throw new RangeError(`${id}: lattice must have 9 numbers, got ${lattice.length}`);
  }
  for (let i = 0; i < 9; i++) {
    if (!Number.isFinite(lattice[i])) {
      throw new RangeError(`${id}: lattice has a non-finite entry (${lattice[i]})`);
    }
  }
  const v = latticeVolume(lattice);
  const p = latticeParameters(lattice);
  if (!(v > 1e-8 * p.a * p.b * p.c) || !(v > 0)) {
    const what = v < 0 ? "negative (left-handed basis)" : "zero (degenerate cell)";
    throw new RangeError(`${id}: lattice volume ${v.toPrecision(4)} Å³ is ${what}`);
  }
}

/**
 * Cartesian positions `[nAtoms, 3]` in Å of a structure: X = frac · L.
 *
 * @example
 * ```ts
 * import { cartesian, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const xyz = cartesian(s); // [nAtoms × 3] Å, X = frac · L
 * ```
 */
export function cartesian(s: Structure): Float64Array {
  const { frac, lattice: l } = s;
  const n = frac.length / 3;
  const out = new Float64Array(frac.length);
  for (let i = 0; i < n; i++) {
    const u = frac[3 * i], v = frac[3 * i + 1], w = frac[3 * i + 2];
    out[3 * i] = u * l[0] + v * l[3] + w * l[6];
    out[3 * i + 1] = u * l[1] + v * l[4] + w * l[7];
    out[3 * i + 2] = u * l[2] + v * l[5] + w * l[8];
  }
  return out;
}

/** Fractional coordinates `[nAtoms, 3]` of Cartesian positions `[nAtoms, 3]`: frac = X · L⁻¹. */
export function fractional(lattice: ArrayLike<number>, positions: ArrayLike<number>): Float64Array {
  const inv = inverseLattice(lattice);
  const out = new Float64Array(positions.length);
  for (let i = 0; i < positions.length; i += 3) {
    const x = positions[i], y = positions[i + 1], z = positions[i + 2];
    out[i] = x * inv[0] + y * inv[3] + z * inv[6];
    out[i + 1] = x * inv[1] + y * inv[4] + z * inv[7];
    out[i + 2] = x * inv[2] + y * inv[5] + z * inv[8];
  }
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Chemical formula of a structure, elements in order of first appearance in `numbers`
 * (not pymatgen's electronegativity order: no property table is needed, and CIF site order
 * usually puts the cation first): the 8-atom NaCl cell gives "NaCl", a 10-atom Fe₂O₃ cell
 * "Fe2O3". `reduced` (default true) divides the counts by their greatest common divisor;
 * `reduced: false` gives the cell content ("Na4Cl4"). A count of 1 is not written.
 *
 * @example
 * ```ts
 * import { formula, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * console.log(formula(s), formula(s, { reduced: false }));
 * ```
 */
export function formula(s: Structure, options: { reduced?: boolean } = {}): string {
  const counts = new Map<number, number>();
  for (const z of s.numbers) counts.set(z, (counts.get(z) ?? 0) + 1);
  let g = 0;
  for (const c of counts.values()) g = gcd(c, g);
  const div = options.reduced === false || g === 0 ? 1 : g;
  let out = "";
  for (const [z, c] of counts) {
    const n = c / div;
    out += elementSymbol(z) + (n === 1 ? "" : String(n));
  }
  return out;
}
