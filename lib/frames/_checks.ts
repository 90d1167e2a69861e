/**
 * Argument checks shared by the frame functions (not part of the public API).
 * @module
 */

/**
 * Validate CSR crystal offsets against an atom count; returns the number of crystals.
 */
export function checkSegments(segments: Int32Array, nAtoms: number, who: string): number {
  const n = segments.length - 1;
  if (n < 0) throw new RangeError(`${who}: segments must have nCrystals + 1 ≥ 1 entries`);
  for (let c = 0; c < n; c++) {
    if (segments[c + 1] < segments[c]) {
      throw new RangeError(`${who}: segments must be non-decreasing (at crystal ${c})`);
    }
  }
  if (segments[0] < 0 || segments[n] > nAtoms) {
    throw new RangeError(
      `${who}: segments [${segments[0]}, ${segments[n]}] exceed ${nAtoms} atoms`,
    );
  }
  return n;
}
