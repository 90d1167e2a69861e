/**
 * Sanity checks every loader applies to every structure before it enters a data set, so a bad
 * structure is skipped with a reason at load time instead of failing deep inside training.
 * @module
 */

import { latticeVolume } from "../../crystal/lattice.ts";
import type { Structure } from "../../crystal/types.ts";
import { ELEMENT_SYMBOLS } from "../../crystal/symbols.ts";
import { type AtomFeatureTable, BUILTIN_ATOM_FEATURES } from "../../crystal/atom_features.ts";

/**
 * Options of {@link validateStructure}.
 */
export interface ValidateOptions {
  /** Two atoms (or an atom and its own periodic image) closer than this are "overlapping" (Å). Default 0.5. */
  minDistance?: number;
  /**
   * Atom-feature table every element must be covered by (default: the built-in CGCNN table,
   * Z 1..100), so a structure the model cannot featurize is skipped at load time.
   */
  atomFeatures?: AtomFeatureTable;
}

/** Default overlap threshold (Å): shorter than any real bond (H–H is 0.74 Å). */
export const DEFAULT_MIN_DISTANCE = 0.5;

/** Element symbol for an atomic number, or `Z=<n>` when unknown. */
export function symbolOf(z: number): string {
  return z >= 1 && z <= ELEMENT_SYMBOLS.length ? ELEMENT_SYMBOLS[z - 1] : `Z=${z}`;
}

/**
 * Checks one structure. Returns `null` when it is usable, else a sentence saying what is wrong
 * (the caller prefixes the file and id): no atoms, non-finite lattice, zero/negative/NaN cell
 * volume, NaN coordinates, unknown element, overlapping atoms (minimum-image distance over the
 * 27 neighbouring cells after wrapping, plus each atom against its own images).
 */
export function validateStructure(s: Structure, options: ValidateOptions = {}): string | null {
  const minD = options.minDistance ?? DEFAULT_MIN_DISTANCE;
  const table = options.atomFeatures ?? BUILTIN_ATOM_FEATURES;
  const maxZ = ELEMENT_SYMBOLS.length;
  const n = s.numbers.length;
  if (n === 0) return "structure has no atoms";
  if (s.frac.length !== 3 * n) {
    return `has ${n} atomic numbers but ${s.frac.length / 3} coordinate triples`;
  }
  const L = s.lattice;
  if (L.length !== 9) return `lattice has ${L.length} numbers, expected 9`;
  for (let k = 0; k < 9; k++) {
    if (!Number.isFinite(L[k])) return `lattice contains a non-finite number (${L[k]})`;
  }
  const vol = latticeVolume(L);
  if (!Number.isFinite(vol)) return `cell volume is not a number (${vol})`;
  if (vol <= 1e-6) {
    return vol < -1e-6
      ? `cell volume is negative (${vol.toPrecision(4)} Å³: left-handed or inverted lattice)`
      : `cell volume is zero (${vol.toPrecision(4)} Å³: degenerate lattice)`;
  }
  for (let i = 0; i < n; i++) {
    const z = s.numbers[i];
    if (!Number.isInteger(z) || z < 1 || z > maxZ) {
      return `atom ${i + 1} has an unknown element (atomic number ${z}; known: 1..${maxZ})`;
    }
    if (!table.has(z)) {
      return `atom ${i + 1} is ${symbolOf(z)} (Z = ${z}), which has no atom features in ` +
        `${table.source} (Z ≤ ${table.maxZ})`;
    }
    for (let d = 0; d < 3; d++) {
      if (!Number.isFinite(s.frac[3 * i + d])) {
        return `atom ${i + 1} (${symbolOf(z)}) has a non-finite coordinate (${s.frac[3 * i + d]})`;
      }
    }
  }
  // Each atom against its own periodic images: the shortest lattice translation is bounded
  // below by the smallest row length only for orthogonal cells, so test all 13 ±combinations.
  let minSelf = Infinity;
  for (let a = -1; a <= 1; a++) {
    for (let b = -1; b <= 1; b++) {
      for (let c = -1; c <= 1; c++) {
        if (a === 0 && b === 0 && c === 0) continue;
        const x = a * L[0] + b * L[3] + c * L[6];
        const y = a * L[1] + b * L[4] + c * L[7];
        const zz = a * L[2] + b * L[5] + c * L[8];
        minSelf = Math.min(minSelf, Math.hypot(x, y, zz));
      }
    }
  }
  if (minSelf < minD) {
    return `cell is too small: a lattice translation is ${minSelf.toFixed(3)} Å, ` +
      `so every atom overlaps its own periodic image (< ${minD} Å)`;
  }
  const f = s.frac;
  const minD2 = minD * minD;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let dx = f[3 * j] - f[3 * i];
      let dy = f[3 * j + 1] - f[3 * i + 1];
      let dz = f[3 * j + 2] - f[3 * i + 2];
      dx -= Math.round(dx);
      dy -= Math.round(dy);
      dz -= Math.round(dz);
      for (let a = -1; a <= 1; a++) {
        for (let b = -1; b <= 1; b++) {
          for (let c = -1; c <= 1; c++) {
            const u = dx + a, v = dy + b, w = dz + c;
            const x = u * L[0] + v * L[3] + w * L[6];
            const y = u * L[1] + v * L[4] + w * L[7];
            const zz = u * L[2] + v * L[5] + w * L[8];
            const d2 = x * x + y * y + zz * zz;
            if (d2 < minD2) {
              return `atoms ${i + 1} (${symbolOf(s.numbers[i])}) and ${j + 1} (${
                symbolOf(s.numbers[j])
              }) overlap: ${Math.sqrt(d2).toFixed(3)} Å apart (< ${minD} Å)`;
            }
          }
        }
      }
    }
  }
  return null;
}

/** Checks a target value; returns `null` when finite, else what is wrong. */
export function validateTarget(t: number, column: string): string | null {
  return Number.isFinite(t) ? null : `target ${column} is not a finite number (${t})`;
}

/**
 * Parses a numeric CSV cell strictly: an empty cell or text (`"abc"`, `"1.2eV"`) gives NaN,
 * unlike `Number("")` = 0 or `parseFloat("1.2eV")` = 1.2.
 */
export function parseNumber(cell: string): number {
  const t = cell.trim();
  if (t === "") return NaN;
  return Number(t);
}
