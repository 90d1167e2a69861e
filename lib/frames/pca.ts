/**
 * PCA frames of crystals (Puny et al. ICLR 2022; Duval et al. ICML 2023): centre t = mean of the
 * atom positions, covariance C = (X − 1tᵀ)ᵀ(X − 1tᵀ), eigenvectors of C in ascending order of
 * eigenvalue with the canonical signs of {@linkcode symmetricEigen3Batched}. The 8 sign variants of
 * this base are the frame set (see `signs.ts`).
 *
 * Invariance holds for rigid motions and permutations of the stored atoms of one cell; the
 * frame is not invariant to re-wrapping atoms into the cell or to a different choice of cell
 * (those change the point cloud itself).
 * @module
 */

import { symmetricEigen3Batched } from "../util/eigen3.ts";
import { checkSegments } from "./_checks.ts";

/**
 * Default threshold on the relative eigengap below which a PCA frame counts as degenerate.
 *
 * Why 1e-2: eigenvectors move by about (perturbation / gap), so with a relative gap g the
 * float32 coordinates the model sees (relative noise ~1e-7) turn the frame by ~1e-7/g; at
 * g = 1e-2 that is ~1e-5, the level of other float32 errors in a forward pass. Below it the
 * frame is numerically fragile, and at g → 0 (cubic cells, one atom, collinear atoms) it is
 * undefined. It is also the threshold of the perovskite measurement.
 */
export const DEFAULT_GAP_TOLERANCE = 1e-2;

/**
 * PCA frames of a batch of crystals (one entry per crystal unless noted).
 *
 * @example
 * ```ts
 * import { cartesian, type PcaFrames, pcaFrames, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const f: PcaFrames = pcaFrames(cartesian(s), Int32Array.of(0, s.numbers.length));
 * console.log(f.eigenvalues, f.relativeGap[0], f.degenerate[0]);
 * ```
 */
export interface PcaFrames {
  /** `[nCrystals, 3]` centres t (mean position; 0 for an empty crystal). */
  centers: Float64Array;
  /**
   * `[nCrystals, 9]` row-major U = [u1 u2 u3] (columns = eigenvectors of C, ascending
   * eigenvalues, canonical signs: each column's largest-|.| component positive).
   */
  rotations: Float64Array;
  /** `[nCrystals, 3]` ascending eigenvalues of C (Å²; may be ~−1e-16·λ3 from roundoff). */
  eigenvalues: Float64Array;
  /** `[nCrystals]` 1 where `relativeGap < gapTolerance` (includes one atom: C = 0). */
  degenerate: Uint8Array;
  /** `[nCrystals]` relative eigengap, see {@linkcode relativeEigengap}. */
  relativeGap: Float64Array;
}

/**
 * Options of {@linkcode pcaFrames}.
 */
export interface PcaOptions {
  /** Relative eigengap threshold for `degenerate` (default {@linkcode DEFAULT_GAP_TOLERANCE}). */
  gapTolerance?: number;
}

/**
 * Relative eigengap of ascending eigenvalues λ1 ≤ λ2 ≤ λ3 of a covariance (PSD) matrix:
 * g = min(λ2 − λ1, λ3 − λ2) / λ3, and g = 0 when λ3 ≤ 0 (C = 0: no atoms, one atom, or all
 * atoms at one point). g ∈ [0, 0.5]; g = 0 means two equal eigenvalues (frame undefined).
 * The scale λ3 = ‖C‖₂ makes g dimensionless and independent of cell size; since λ are
 * computed to ~1e-16·λ3, values of g below ~1e-12 are indistinguishable from 0.
 *
 * @param l1 smallest eigenvalue.
 * @param l2 middle eigenvalue.
 * @param l3 largest eigenvalue.
 * @returns the relative gap g.
 */
export function relativeEigengap(l1: number, l2: number, l3: number): number {
  if (!(l3 > 0)) return 0;
  return Math.max(0, Math.min(l2 - l1, l3 - l2)) / l3;
}

/**
 * PCA frames for crystals given as contiguous atom ranges.
 *
 * @param positions `[nAtoms, 3]` Cartesian positions (Å); atom indices are absolute.
 * @param segments `[nCrystals + 1]` CSR offsets: crystal c owns atoms
 *   `segments[c] .. segments[c+1]` (non-decreasing).
 * @param options gap tolerance.
 * @returns centres, frame bases, eigenvalues, degeneracy flags and relative gaps.
 *
 * @example
 * ```ts
 * import { cartesian, pcaFrames, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const { rotations, degenerate } = pcaFrames(cartesian(s), Int32Array.of(0, s.numbers.length));
 * console.log(rotations.length, degenerate[0] === 1 ? "degenerate" : "well defined"); // 9 …
 * ```
 */
export function pcaFrames(
  positions: Float64Array,
  segments: Int32Array,
  options: PcaOptions = {},
): PcaFrames {
  const tol = options.gapTolerance ?? DEFAULT_GAP_TOLERANCE;
  const n = checkSegments(segments, positions.length / 3, "pcaFrames");
  const centers = new Float64Array(3 * n);
  const cov = new Float64Array(9 * n);
  for (let c = 0; c < n; c++) {
    const lo = segments[c], hi = segments[c + 1];
    if (hi === lo) continue; // empty: t = 0, C = 0
    // Two passes (mean, then centred sums) keep C accurate when |t| ≫ spread.
    let tx = 0, ty = 0, tz = 0;
    for (let i = lo; i < hi; i++) {
      tx += positions[3 * i];
      ty += positions[3 * i + 1];
      tz += positions[3 * i + 2];
    }
    const inv = 1 / (hi - lo);
    tx *= inv, ty *= inv, tz *= inv;
    let xx = 0, xy = 0, xz = 0, yy = 0, yz = 0, zz = 0;
    for (let i = lo; i < hi; i++) {
      const x = positions[3 * i] - tx, y = positions[3 * i + 1] - ty, z = positions[3 * i + 2] - tz;
      xx += x * x, xy += x * y, xz += x * z;
      yy += y * y, yz += y * z, zz += z * z;
    }
    centers[3 * c] = tx, centers[3 * c + 1] = ty, centers[3 * c + 2] = tz;
    const o = 9 * c;
    cov[o] = xx, cov[o + 1] = xy, cov[o + 2] = xz;
    cov[o + 3] = xy, cov[o + 4] = yy, cov[o + 5] = yz;
    cov[o + 6] = xz, cov[o + 7] = yz, cov[o + 8] = zz;
  }
  const eigenvalues = new Float64Array(3 * n);
  const rotations = new Float64Array(9 * n);
  symmetricEigen3Batched(cov, n, eigenvalues, rotations);
  const degenerate = new Uint8Array(n);
  const relativeGap = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const g = relativeEigengap(eigenvalues[3 * c], eigenvalues[3 * c + 1], eigenvalues[3 * c + 2]);
    relativeGap[c] = g;
    degenerate[c] = g < tol ? 1 : 0;
  }
  return { centers, rotations, eigenvalues, degenerate, relativeGap };
}
