/**
 * A built-in table of element facts (Z = 1..118, `null` where a value is unknown or was absent
 * from the data CGCNN's `atom_init.json` was built from). These facts plus the binning rule in
 * `atom_features.ts` reproduce CGCNN's 92-long atom features for Z = 1..100.
 *
 * Sources and units:
 * - group, period, block: the periodic table, with the convention CGCNN's file uses: La..Yb and
 *   Ac..No form the f-block and have no group (`null`); Lu and Lr are group 3 (d-block).
 * - electronegativity: Pauling scale (dimensionless), Allred's 1961 revision as tabulated by
 *   CRC/WebElements/pymatgen, except for W, Pt, Hg, Pb, Bi, U, Lu and Tc where CGCNN's source
 *   kept Pauling's 1960 ("Nature of the Chemical Bond") values; see {@link ELECTRONEGATIVITY}.
 * - covalent radius: single-bond radii of Pyykkö & Atsumi, Chem. Eur. J. 15, 186 (2009), in pm.
 * - valence electrons: s/p-block: outer s + p electrons; d-block: (n−1)d + ns = group number;
 *   f-block: the outer ns² pair (2). Palladium carries CGCNN's source value 12 (see below).
 * - first ionisation energy: NIST ASD, in eV.
 * - electron affinity: in eV, the values of the compilation CGCNN's source used (photodetachment
 *   values such as H 0.754195, O 1.461113, Cl 3.612725; estimates for unbound anions of Be and N;
 *   older lanthanide values); `null` where it had none.
 * - atomic volume: the classic tabulated atomic volume (molar mass / density of the condensed
 *   element), in cm³/mol, e.g. H 14.1, He 31.8, Li 13.1.
 * @module
 */

import { elementSymbol } from "./symbols.ts";

/** The block of an element ("s", "p", "d", "f"), CGCNN convention (La, Ac: f; Lu, Lr: d). */
export type ElementBlock = "s" | "p" | "d" | "f";

/** The facts of one element, as used by the CGCNN atom features. */
export interface ElementFacts {
  /** Atomic number. */
  z: number;
  /** Element symbol. */
  symbol: string;
  /** IUPAC group 1..18; `null` for the f-block (La..Yb, Ac..No). */
  group: number | null;
  /** Period 1..7. */
  period: number;
  /** Block, CGCNN convention. */
  block: ElementBlock;
  /** Pauling electronegativity; `null` if unknown. */
  electronegativity: number | null;
  /** Single-bond covalent radius (Pyykkö 2009), pm; `null` if unknown. */
  covalentRadius: number | null;
  /** Number of valence electrons (1..12, see module docs); `null` if unknown. */
  valenceElectrons: number | null;
  /** First ionisation energy, eV; `null` if unknown. */
  ionizationEnergy: number | null;
  /** Electron affinity, eV (negative: unbound anion estimate); `null` if unknown. */
  electronAffinity: number | null;
  /** Atomic (molar) volume, cm³/mol; `null` if unknown. */
  atomicVolume: number | null;
}

/** Highest atomic number this table describes (Og). */
export const ELEMENT_FACTS_MAX_Z = 118;

const _ = null;

/**
 * Pauling electronegativity by Z − 1 (H..Fm; beyond: unknown).
 *
 * CGCNN's source used Pauling's 1960 values for W 1.7 (Allred: 2.36), Pt 2.2 (2.28), Hg 1.9
 * (2.00), Pb 1.8 (2.33), Bi 1.9 (2.02), U 1.7 (1.38) and Lu 1.2 (1.27), and 2.10 for Tc (1.9):
 * these are published values too, and the only ones that put these elements in the bins of
 * CGCNN's file. Kr (often listed as 3.00), Pm, Eu, Tb, Yb and Am..Fm have no value there
 * (other tables give estimates), so their block is all zero; an estimate would set a bin that
 * CGCNN's file leaves empty.
 */
// deno-fmt-ignore
export const ELECTRONEGATIVITY: readonly (number | null)[] = [
  2.20, _, 0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, _, // H..Ne
  0.93, 1.31, 1.61, 1.90, 2.19, 2.58, 3.16, _, 0.82, 1.00, // Na..Ca
  1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88, 1.91, 1.90, 1.65, // Sc..Zn
  1.81, 2.01, 2.18, 2.55, 2.96, _, 0.82, 0.95, 1.22, 1.33, // Ga..Zr
  1.6, 2.16, 2.10, 2.2, 2.28, 2.20, 1.93, 1.69, 1.78, 1.96, // Nb..Sn
  2.05, 2.1, 2.66, 2.60, 0.79, 0.89, 1.10, 1.12, 1.13, 1.14, // Sb..Nd
  _, 1.17, _, 1.20, _, 1.22, 1.23, 1.24, 1.25, _, // Pm..Yb
  1.2, 1.3, 1.5, 1.7, 1.9, 2.2, 2.20, 2.2, 2.54, 1.9, // Lu..Hg
  1.62, 1.8, 1.9, 2.0, 2.2, _, 0.7, 0.9, 1.1, 1.3, // Tl..Th
  1.5, 1.7, 1.36, 1.28, _, _, _, _, _, _, // Pa..Fm
];

/** Single-bond covalent radius (Pyykkö & Atsumi 2009), pm, by Z − 1 (H..Og). */
// deno-fmt-ignore
export const COVALENT_RADIUS: readonly (number | null)[] = [
  32, 46, 133, 102, 85, 75, 71, 63, 64, 67, // H..Ne
  155, 139, 126, 116, 111, 103, 99, 96, 196, 171, // Na..Ca
  148, 136, 134, 122, 119, 116, 111, 110, 112, 118, // Sc..Zn
  124, 121, 121, 116, 114, 117, 210, 185, 163, 154, // Ga..Zr
  147, 138, 128, 125, 125, 120, 128, 136, 142, 140, // Nb..Sn
  140, 136, 133, 131, 232, 196, 180, 163, 176, 174, // Sb..Nd
  173, 172, 168, 169, 168, 167, 166, 165, 164, 170, // Pm..Yb
  162, 152, 146, 137, 131, 129, 122, 123, 124, 133, // Lu..Hg
  144, 144, 151, 145, 147, 142, 223, 201, 186, 175, // Tl..Th
  169, 170, 171, 172, 166, 166, 168, 168, 165, 167, // Pa..Fm
  173, 176, 161, 157, 149, 143, 141, 134, 129, 128, // Md..Ds
  121, 122, 136, 143, 162, 175, 165, 157, // Rg..Og
];

/** First ionisation energy (NIST ASD), eV, by Z − 1 (H..Lr). */
// deno-fmt-ignore
export const IONIZATION_ENERGY: readonly (number | null)[] = [
  13.598434, 24.587387, 5.391715, 9.322699, 8.298019, // H..B
  11.260296, 14.534130, 13.618054, 17.422819, 21.564540, // C..Ne
  5.139077, 7.646235, 5.985768, 8.151683, 10.486686, // Na..P
  10.360010, 12.967630, 15.759611, 4.340663, 6.113155, // S..Ca
  6.561490, 6.828120, 6.746187, 6.766510, 7.434018, // Sc..Mn
  7.902468, 7.881010, 7.639877, 7.726380, 9.394199, // Fe..Zn
  5.999302, 7.899435, 9.788600, 9.752392, 11.813810, // Ga..Br
  13.999605, 4.177128, 5.694867, 6.217260, 6.633900, // Kr..Zr
  6.758850, 7.092430, 7.119380, 7.360500, 7.458900, // Nb..Rh
  8.336860, 7.576234, 8.993822, 5.786355, 7.343917, // Pd..Sn
  8.608389, 9.009660, 10.451260, 12.129843, 3.893906, // Sb..Cs
  5.211664, 5.576900, 5.538600, 5.473000, 5.525000, // Ba..Nd
  5.582000, 5.643710, 5.670385, 6.149796, 5.863800, // Pm..Tb
  5.939050, 6.021500, 6.107700, 6.184310, 6.254160, // Dy..Yb
  5.425871, 6.825070, 7.549570, 7.864030, 7.833520, // Lu..Re
  8.438230, 8.967020, 8.958830, 9.225553, 10.437504, // Os..Hg
  6.108287, 7.416679, 7.285516, 8.414000, 9.317510, // Tl..At
  10.748500, 4.072741, 5.278424, 5.380226, 6.306700, // Rn..Th
  5.890000, 6.194050, 6.265500, 6.025800, 5.973800, // Pa..Am
  5.991400, 6.197850, 6.281660, 6.367580, 6.500000, // Cm..Fm
  6.580000, 6.626210, 4.963000, // Md..Lr
];

/**
 * Electron affinity, eV, by Z − 1 (H..Fm).
 *
 * Values of the compilation CGCNN's source used. Be (−2.4) and N (−1.4) are its estimates for
 * unbound anions (the usual N value, ≈ −0.07, would land two bins higher). Nd 1.916, Eu 0.864
 * and Tb 1.165 are older tabulated values (recent measurements give ≈ 0.1 eV, a lower bin),
 * kept because CGCNN's file was built from them. `null`: no value in that compilation (noble
 * gases but Xe, Mg, Mn, Zn, Cd, Hg, Pm, Sm, Gd, Ho, Er, Th..Fm), so the block is all zero.
 */
// deno-fmt-ignore
export const ELECTRON_AFFINITY: readonly (number | null)[] = [
  0.754195, _, 0.618049, -2.4, 0.279723, 1.262119, -1.4, 1.461113, 3.401190, _, // H..Ne
  0.547926, _, 0.432830, 1.389521, 0.746607, 2.077104, 3.612725, _, 0.501470, 0.02455, // Na..Ca
  0.188, 0.079, 0.525, 0.666, _, 0.151, 0.662256, 1.156, 1.235, _, // Sc..Zn
  0.43, 1.232712, 0.804, 2.020670, 3.363588, _, 0.48592, 0.048, 0.307, 0.426, // Ga..Zr
  0.917406, 0.748, 0.55, 1.05, 1.137, 0.562, 1.302, _, 0.3, 1.112067, // Nb..Sn
  1.046, 1.970876, 3.059037, -0.056, 0.471626, 0.14462, 0.47, 0.65, 0.962, 1.916, // Sb..Nd
  _, _, 0.864, _, 1.165, 0.352, _, _, 1.029, -0.02, // Pm..Yb
  0.34, 0.014, 0.322, 0.81626, 0.15, 1.1, 1.5638, 2.128, 2.30863, _, // Lu..Hg
  0.377, 0.356743, 0.942362, 1.9, 2.415787, _, 0.46, 0.1, 0.35, _, // Tl..Th
  _, _, _, _, _, _, _, _, _, _, // Pa..Fm
];

/**
 * Atomic (molar) volume, cm³/mol, by Z − 1 (H..Fm).
 *
 * `null` for At, Fr and Bk..Fm (never measured in bulk) and for Pm, Rn and Pu, which CGCNN's
 * source also lacked (modern tables list ≈ 20.2, 50.5 and 12.3), so their block is all zero.
 */
// deno-fmt-ignore
export const ATOMIC_VOLUME: readonly (number | null)[] = [
  14.1, 31.8, 13.1, 5.0, 4.6, 5.3, 17.3, 14.0, 17.1, 16.8, // H..Ne
  23.7, 14.0, 10.0, 12.1, 17.0, 15.5, 18.7, 24.2, 45.3, 29.9, // Na..Ca
  15.0, 10.6, 8.35, 7.23, 7.39, 7.1, 6.7, 6.6, 7.1, 9.2, // Sc..Zn
  11.8, 13.6, 13.1, 16.5, 23.5, 32.2, 55.9, 33.7, 19.8, 14.1, // Ga..Zr
  10.8, 9.4, 8.5, 8.3, 8.3, 8.9, 10.3, 13.1, 15.7, 16.3, // Nb..Sn
  18.4, 20.5, 25.7, 42.9, 70.0, 39.0, 22.5, 21.0, 20.8, 20.6, // Sb..Nd
  _, 19.9, 28.9, 19.9, 19.2, 19.0, 18.7, 18.4, 18.1, 24.8, // Pm..Yb
  17.8, 13.6, 10.9, 9.53, 8.85, 8.43, 8.54, 9.1, 10.2, 14.8, // Lu..Hg
  17.2, 18.3, 21.3, 22.7, _, _, _, 45.0, 22.54, 19.8, // Tl..Th
  15.0, 12.5, 21.1, _, 20.8, 18.28, _, _, _, _, // Pa..Fm
];

/**
 * Valence electrons whose table value differs from the rule in the module docs. Pd: CGCNN's
 * source counts 12 (as if [Kr]4d¹⁰5s²); the ground state [Kr]4d¹⁰ gives 10.
 */
const VALENCE_EXCEPTIONS: ReadonlyMap<number, number> = new Map([[46, 12]]);

/** Period of Z (1..7): the noble gases close each period. */
function periodOf(z: number): number {
  const closes = [2, 10, 18, 36, 54, 86, 118];
  return closes.findIndex((c) => z <= c) + 1;
}

/** Group (1..18, null for the f-block) from the position within the period. */
function groupOf(z: number, period: number): number | null {
  const starts = [1, 3, 11, 19, 37, 55, 87];
  const o = z - starts[period - 1] + 1; // 1-based position in the period
  if (period === 1) return o === 1 ? 1 : 18;
  if (period <= 3) return o <= 2 ? o : o + 10;
  if (period <= 5) return o;
  if (o <= 2) return o;
  if (o <= 16) return null; // La..Yb, Ac..No
  return o - 14; // Lu/Lr → 3 … Rn/Og → 18
}

function blockOf(z: number, group: number | null): ElementBlock {
  if (group === null) return "f";
  if (group <= 2 || z === 2) return "s";
  if (group >= 13) return "p";
  return "d";
}

function valenceOf(z: number, group: number | null, block: ElementBlock): number {
  const exception = VALENCE_EXCEPTIONS.get(z);
  if (exception !== undefined) return exception;
  if (z === 2) return 2;
  if (block === "f") return 2;
  if (block === "p") return group! - 10;
  return group!;
}

const at = (values: readonly (number | null)[], z: number): number | null => values[z - 1] ?? null;

let cache: ElementFacts[] | undefined;

/**
 * The facts of element z (1..{@link ELEMENT_FACTS_MAX_Z}); throws a RangeError outside.
 * Values not known to the table are `null`.
 */
export function elementFacts(z: number): ElementFacts {
  if (!Number.isInteger(z) || z < 1 || z > ELEMENT_FACTS_MAX_Z) {
    throw new RangeError(`no element facts for atomic number ${z} (1..${ELEMENT_FACTS_MAX_Z})`);
  }
  cache ??= [];
  let facts = cache[z];
  if (facts === undefined) {
    const period = periodOf(z);
    const group = groupOf(z, period);
    const block = blockOf(z, group);
    facts = {
      z,
      symbol: elementSymbol(z),
      group,
      period,
      block,
      electronegativity: at(ELECTRONEGATIVITY, z),
      covalentRadius: at(COVALENT_RADIUS, z),
      valenceElectrons: valenceOf(z, group, block),
      ionizationEnergy: at(IONIZATION_ENERGY, z),
      electronAffinity: at(ELECTRON_AFFINITY, z),
      atomicVolume: at(ATOMIC_VOLUME, z),
    };
    cache[z] = Object.freeze(facts);
  }
  return facts;
}
