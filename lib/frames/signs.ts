/**
 * The 8 sign frames of a PCA base (frame averaging, Puny et al. ICLR 2022): U = [±u1, ±u2, ±u3] =
 * U·diag(s). Eigenvectors are only defined up to sign, so the frame of a point cloud is this whole
 * set; all 8 are used, including the improper ones (det = −det U): the symmetry group is O(3), and
 * under a reflection of the input the set maps onto itself only if both handednesses are in it.
 * @module
 */

/** Number of sign frames. */
export const SIGN_FRAME_COUNT = 8;

/**
 * `[8, 3]` sign patterns s (row f = pattern f), each entry ±1. Order: bit k of f set means
 * s_k = −1 (bit 0 ↔ u1, bit 1 ↔ u2, bit 2 ↔ u3), so
 * 0 = (+,+,+), 1 = (−,+,+), 2 = (+,−,+), 3 = (−,−,+), 4 = (+,+,−), 5 = (−,+,−),
 * 6 = (+,−,−), 7 = (−,−,−). Pattern 0 is the identity (the canonical base itself).
 */
export const SIGN_PATTERNS: Readonly<Int8Array> = (() => {
  const s = new Int8Array(3 * SIGN_FRAME_COUNT);
  for (let f = 0; f < SIGN_FRAME_COUNT; f++) {
    for (let k = 0; k < 3; k++) s[3 * f + k] = (f >> k) & 1 ? -1 : 1;
  }
  return s;
})();

/**
 * Sign s_k of column k in pattern f (= `SIGN_PATTERNS[3f + k]`).
 * @param pattern pattern index 0..7.
 * @param k column 0..2.
 */
export function signOf(pattern: number, k: number): number {
  return (pattern >> k) & 1 ? -1 : 1;
}

/**
 * U·diag(s): column k of `rotation` multiplied by s_k of `pattern`.
 *
 * @param rotation row-major 3×3 (9 entries from `offset`), columns = frame axes.
 * @param pattern sign pattern index 0..7 (see {@linkcode SIGN_PATTERNS}).
 * @param out 9-entry output (may be `rotation` itself when `offset` is 0); new if omitted.
 * @param offset index of the first entry of the 3×3 in `rotation` (default 0).
 * @returns `out`.
 */
export function applySigns(
  rotation: ArrayLike<number>,
  pattern: number,
  out: Float64Array = new Float64Array(9),
  offset = 0,
): Float64Array {
  if (!Number.isInteger(pattern) || pattern < 0 || pattern >= SIGN_FRAME_COUNT) {
    throw new RangeError(`sign pattern must be an integer in 0..7, got ${pattern}`);
  }
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 3; k++) out[3 * i + k] = signOf(pattern, k) * rotation[offset + 3 * i + k];
  }
  return out;
}
