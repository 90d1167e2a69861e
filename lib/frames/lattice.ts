/**
 * Lattice frames: an orthogonal frame from the polar decomposition of the lattice matrix.
 *
 * Convention: positions are row vectors, L has rows a, b, c, X = frac·L. A rotation or
 * reflection R ∈ O(3) acts as X → X·R, L → L·R. Write the polar decomposition L = P·Q with
 * P = (L·Lᵀ)^{1/2} symmetric positive definite and Q orthogonal (for a square non-singular
 * matrix the orthogonal factor is the same as in L = Q·P', P' = (LᵀL)^{1/2}, and unique).
 * Since (L·R)(L·R)ᵀ = L·Lᵀ, P is unchanged and L·R = P·(Q·R): Q → Q·R. The frame is
 * U = Qᵀ, so U → Rᵀ·U and x̃ = (x − t)·U is invariant, for proper and improper R alike
 * (det Q = sign det L flips with det R; no special case). In this frame the cell rows become
 * L·U = P: the symmetric cell, so a cell that is already symmetric (e.g. orthorhombic, axis
 * aligned) has U = I.
 *
 * Limits: the frame belongs to the cell basis, not to the crystal. An equivalent but
 * different basis (another unit cell, a supercell, a permutation or sign change of a, b, c)
 * gives a different frame, so the frame is invariant to rotating the same CIF but not to a
 * cell re-choice. Translation is handled by the centre t (the mean position, as for PCA).
 * A singular cell (|det| ≈ 0, e.g. a molecule stored with a zero lattice) has no frame: the
 * identity is returned and the cell is flagged.
 * @module
 */

/** Relative determinant |det(L/‖L‖_F)| below which a cell counts as singular. */
export const SINGULAR_CELL_TOLERANCE = 1e-12;

/** Newton iteration cap (scaled Newton converges in ~5–10 steps for sane cells). */
const MAX_ITERATIONS = 100;

/**
 * Orthogonal lattice frames U = Qᵀ, Q the orthogonal polar factor of L.
 *
 * Q is computed by Newton's iteration with Higham's scaling,
 * Q_{k+1} = (γ_k Q_k + Q_k^{-T}/γ_k)/2 with γ_k = (‖Q_k^{-1}‖_F / ‖Q_k‖_F)^{1/2}, from
 * Q_0 = L/‖L‖_F, until ‖Q_{k+1} − Q_k‖_F ≤ 1e-9 (convergence is quadratic, so the last
 * iterate is orthogonal to roundoff), in float64.
 *
 * @param lattices `[count, 9]` row-major lattices, rows a, b, c.
 * @param count number of cells.
 * @param singular optional `[count]` output: 1 where the cell is singular or non-finite
 *   (its frame is then the identity).
 * @returns `[count, 9]` row-major orthogonal frames U (columns = frame axes).
 *
 * @example
 * ```ts
 * import { latticeFrames, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const f = latticeFrames(s.lattice, 1); // orthogonal polar factor of the cell, one 3 × 3 per crystal
 * ```
 */
export function latticeFrames(
  lattices: Float64Array,
  count: number,
  singular?: Uint8Array,
): Float64Array {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`bad count ${count}`);
  if (lattices.length < 9 * count) {
    throw new RangeError(
      `latticeFrames: need ${9 * count} lattice entries, got ${lattices.length}`,
    );
  }
  if (singular && singular.length < count) {
    throw new RangeError("latticeFrames: singular too short");
  }
  const out = new Float64Array(9 * count);
  const q = new Float64Array(9);
  const cof = new Float64Array(9);
  for (let c = 0; c < count; c++) {
    const o = 9 * c;
    let norm2 = 0;
    for (let i = 0; i < 9; i++) norm2 += lattices[o + i] * lattices[o + i];
    const norm = Math.sqrt(norm2);
    for (let i = 0; i < 9; i++) q[i] = lattices[o + i] / norm;
    const ok = Number.isFinite(norm) && norm > 0 &&
      Math.abs(cofactors(q, cof)) > SINGULAR_CELL_TOLERANCE;
    if (singular) singular[c] = ok ? 0 : 1;
    if (!ok) {
      out[o] = out[o + 4] = out[o + 8] = 1;
      continue;
    }
    for (let it = 0; it < MAX_ITERATIONS; it++) {
      // Q^{-T} = cof(Q)/det(Q); ‖Q^{-1}‖_F = ‖cof(Q)‖_F/|det Q|.
      const det = cofactors(q, cof);
      let qn = 0, cn = 0;
      for (let i = 0; i < 9; i++) qn += q[i] * q[i], cn += cof[i] * cof[i];
      const gamma = Math.sqrt(Math.sqrt(cn) / Math.abs(det) / Math.sqrt(qn));
      let delta = 0;
      for (let i = 0; i < 9; i++) {
        const next = 0.5 * (gamma * q[i] + cof[i] / (det * gamma));
        delta += (next - q[i]) * (next - q[i]);
        q[i] = next;
      }
      if (delta <= 1e-18) break;
    }
    // U = Qᵀ
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) out[o + 3 * i + j] = q[3 * j + i];
    }
  }
  return out;
}

/** Cofactor matrix of a row-major 3×3 into `cof` (so A^{-T} = cof/det); returns det A. */
function cofactors(m: Float64Array, cof: Float64Array): number {
  cof[0] = m[4] * m[8] - m[5] * m[7];
  cof[1] = m[5] * m[6] - m[3] * m[8];
  cof[2] = m[3] * m[7] - m[4] * m[6];
  cof[3] = m[2] * m[7] - m[1] * m[8];
  cof[4] = m[0] * m[8] - m[2] * m[6];
  cof[5] = m[1] * m[6] - m[0] * m[7];
  cof[6] = m[1] * m[5] - m[2] * m[4];
  cof[7] = m[2] * m[3] - m[0] * m[5];
  cof[8] = m[0] * m[4] - m[1] * m[3];
  return m[0] * cof[0] + m[1] * cof[1] + m[2] * cof[2];
}
