/**
 * A minimal CIF writer: the cell as lengths and angles, space group P 1 and every atom site
 * in fractional coordinates, which {@linkcode parseCif} (and pymatgen, ASE, VESTA) read back.
 * @module
 */

import { latticeParameters } from "./lattice.ts";
import { elementSymbol } from "./symbols.ts";
import type { Structure } from "./types.ts";

/**
 * Options of {@linkcode structureToCif}.
 */
export interface CifWriteOptions {
  /** Data block name (default: the structure's id, whitespace and quotes replaced by `_`). */
  blockName?: string;
  /** Significant digits of cell parameters and coordinates (10). */
  digits?: number;
}

function num(x: number, digits: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`cannot write ${x} to a CIF`);
  const s = Number(x.toPrecision(digits));
  return String(Object.is(s, -0) ? 0 : s);
}

/**
 * The structure as CIF text in space group P 1 (one `data_` block; sites labelled by element
 * and index, e.g. `Na1`). The lattice orientation is not stored (CIF keeps lengths and angles
 * only), so a parsed-back structure has the same fractional coordinates in a rotated cell.
 *
 * @example Write a CIF and read it back
 * ```ts
 * import { parseCif, structureToCif, syntheticCrystals } from "@facgcnn/toolkit";
 * const s = syntheticCrystals({ count: 1, seed: 0 }).get(0).structure;
 * const text = structureToCif(s);
 * const back = parseCif(text);
 * console.log(back.numbers.length === s.numbers.length); // true
 * ```
 */
export function structureToCif(structure: Structure, options: CifWriteOptions = {}): string {
  const digits = options.digits ?? 10;
  const n = structure.numbers.length;
  if (structure.frac.length !== 3 * n) {
    throw new RangeError(`${structure.id}: ${structure.frac.length} coordinates for ${n} atoms`);
  }
  const name = (options.blockName ?? structure.id).replace(/[\s'"#$;_]+/g, "_") || "structure";
  const p = latticeParameters(structure.lattice);
  const lines = [
    `data_${name}`,
    `_symmetry_space_group_name_H-M   'P 1'`,
    `_cell_length_a   ${num(p.a, digits)}`,
    `_cell_length_b   ${num(p.b, digits)}`,
    `_cell_length_c   ${num(p.c, digits)}`,
    `_cell_angle_alpha   ${num(p.alpha, digits)}`,
    `_cell_angle_beta   ${num(p.beta, digits)}`,
    `_cell_angle_gamma   ${num(p.gamma, digits)}`,
    `_symmetry_Int_Tables_number   1`,
    `loop_`,
    ` _symmetry_equiv_pos_site_id`,
    ` _symmetry_equiv_pos_as_xyz`,
    `  1  'x, y, z'`,
    `loop_`,
    ` _atom_site_type_symbol`,
    ` _atom_site_label`,
    ` _atom_site_symmetry_multiplicity`,
    ` _atom_site_fract_x`,
    ` _atom_site_fract_y`,
    ` _atom_site_fract_z`,
    ` _atom_site_occupancy`,
  ];
  const f = structure.frac;
  for (let i = 0; i < n; i++) {
    const sym = elementSymbol(structure.numbers[i]);
    lines.push(
      `  ${sym}  ${sym}${i}  1  ${num(f[3 * i], digits)}  ${num(f[3 * i + 1], digits)}  ${
        num(f[3 * i + 2], digits)
      }  1`,
    );
  }
  return lines.join("\n") + "\n";
}
