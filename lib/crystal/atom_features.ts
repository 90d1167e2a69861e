/**
 * CGCNN atom features: the 92-long one-hot vector built from the element facts in
 * `elements.ts`, and loading of a user's own `atom_init.json`.
 *
 * Layout (offsets in the 92-vector), as in CGCNN's `atom_init.json`:
 * | block | size | encoding |
 * |---|---|---|
 * | group | 19 | slot = group (1..18); slot 0 = no group (f-block La..Yb, Ac..No) |
 * | period | 7 | slot = period − 1 |
 * | electronegativity | 10 | bins over [0.5, 4.0] (Pauling) |
 * | covalent radius | 10 | bins over [25, 250] pm |
 * | valence electrons | 12 | slot = count − 1 |
 * | first ionisation energy | 10 | bins over ln(E / eV) ∈ [1.3, 3.3] |
 * | electron affinity | 10 | bins over [−3.0, 3.7] eV |
 * | block | 4 | s, p, d, f |
 * | atomic volume | 10 | bins over ln(V / (cm³/mol)) ∈ [1.5, 4.3] |
 *
 * A missing value gives an all-zero block (as in CGCNN's file, e.g. noble-gas electronegativity).
 * @module
 */

import { type ElementFacts, elementFacts } from "./elements.ts";
import { elementSymbol } from "./symbols.ts";

/**
 * A per-element feature table: one row of `length` numbers per atomic number 0..maxZ.
 *
 * @example
 * ```ts
 * import { type AtomFeatureTable, BUILTIN_ATOM_FEATURES } from "@facgcnn/toolkit";
 * const table: AtomFeatureTable = BUILTIN_ATOM_FEATURES;
 * console.log(table.length, table.maxZ, table.has(26)); // 92 100 true
 * ```
 */
export interface AtomFeatureTable {
  /** Features per atom (92 for the built-in CGCNN table). */
  readonly length: number;
  /** Highest atomic number with a row. */
  readonly maxZ: number;
  /** `[(maxZ + 1), length]`, row z = features of atomic number z; unsupported rows are zero. */
  readonly rows: Float32Array;
  /** Whether atomic number z has features in this table. */
  has(z: number): boolean;
  /** Where the table came from (file path or "built-in CGCNN"), for error messages. */
  readonly source: string;
}

/** Number of CGCNN atom features. */
export const CGCNN_ATOM_FEATURE_LENGTH = 92;

/** Highest atomic number of the built-in table (CGCNN's `atom_init.json` covers 1..100). */
export const BUILTIN_MAX_Z = 100;

/** A continuous property cut into `n` equal bins over [lo, hi] (of ln value if `log`). */
interface BinSpec {
  lo: number;
  hi: number;
  n: number;
  log: boolean;
}

/**
 * Bin index of v. The fraction (v − lo)/(hi − lo)·n is evaluated in this order on purpose:
 * values that sit on an edge in decimal (Si's electronegativity 1.90, Gd's 1.20) then fall
 * into the lower bin exactly as in CGCNN's file, while Mn's 1.55 falls into the upper one.
 * Values outside the range are clamped into the first / last bin.
 */
function binIndex(v: number, spec: BinSpec): number {
  const x = spec.log ? Math.log(v) : v;
  const k = Math.floor((x - spec.lo) / (spec.hi - spec.lo) * spec.n);
  return Math.min(spec.n - 1, Math.max(0, k));
}

/** One block of the feature vector: its size and the slot for an element (null: all zero). */
interface FeatureBlock {
  name: string;
  size: number;
  slot(f: ElementFacts): number | null;
}

function binned(name: string, spec: BinSpec, get: (f: ElementFacts) => number | null) {
  return {
    name,
    size: spec.n,
    slot: (f: ElementFacts) => {
      const v = get(f);
      return v === null || !Number.isFinite(v) || (spec.log && v <= 0) ? null : binIndex(v, spec);
    },
  } satisfies FeatureBlock;
}

const BLOCK_SLOT = { s: 0, p: 1, d: 2, f: 3 } as const;

/**
 * The nine blocks in CGCNN's order; sizes sum to 92. The bin ranges are the round ranges of
 * CGCNN's feature description; with the facts of `elements.ts` they reproduce every element
 * of CGCNN's `atom_init.json` (checked by the tests).
 */
const BLOCKS: readonly FeatureBlock[] = [
  { name: "group", size: 19, slot: (f) => f.group ?? 0 },
  { name: "period", size: 7, slot: (f) => f.period - 1 },
  binned("electronegativity", { lo: 0.5, hi: 4.0, n: 10, log: false }, (f) => f.electronegativity),
  binned("covalent radius", { lo: 25, hi: 250, n: 10, log: false }, (f) => f.covalentRadius),
  {
    name: "valence electrons",
    size: 12,
    slot: (f) => f.valenceElectrons === null ? null : f.valenceElectrons - 1,
  },
  binned(
    "first ionisation energy",
    { lo: 1.3, hi: 3.3, n: 10, log: true },
    (f) => f.ionizationEnergy,
  ),
  binned("electron affinity", { lo: -3.0, hi: 3.7, n: 10, log: false }, (f) => f.electronAffinity),
  { name: "block", size: 4, slot: (f) => BLOCK_SLOT[f.block] },
  binned("atomic volume", { lo: 1.5, hi: 4.3, n: 10, log: true }, (f) => f.atomicVolume),
];

/** Names and sizes of the nine CGCNN feature blocks, in vector order. */
export const CGCNN_FEATURE_BLOCKS: readonly { name: string; size: number }[] = BLOCKS.map(
  ({ name, size }) => ({ name, size }),
);

/**
 * The 92-long CGCNN feature vector of atomic number z (1..{@link BUILTIN_MAX_Z}) from the
 * built-in element facts. Throws for other z.
 */
export function cgcnnAtomVector(z: number): Float32Array {
  if (!Number.isInteger(z) || z < 1 || z > BUILTIN_MAX_Z) {
    throw new RangeError(`built-in CGCNN atom features cover Z = 1..${BUILTIN_MAX_Z}, not ${z}`);
  }
  const facts = elementFacts(z);
  const out = new Float32Array(CGCNN_ATOM_FEATURE_LENGTH);
  let offset = 0;
  for (const block of BLOCKS) {
    const slot = block.slot(facts);
    if (slot !== null) {
      if (slot < 0 || slot >= block.size) {
        throw new Error(`${facts.symbol}: ${block.name} slot ${slot} outside 0..${block.size - 1}`);
      }
      out[offset + slot] = 1;
    }
    offset += block.size;
  }
  return out;
}

function makeTable(
  length: number,
  maxZ: number,
  rows: Float32Array,
  present: Uint8Array,
  source: string,
): AtomFeatureTable {
  return Object.freeze({
    length,
    maxZ,
    rows,
    source,
    has: (z: number) => Number.isInteger(z) && z >= 0 && z <= maxZ && present[z] === 1,
  });
}

function buildBuiltin(): AtomFeatureTable {
  const n = CGCNN_ATOM_FEATURE_LENGTH;
  const rows = new Float32Array((BUILTIN_MAX_Z + 1) * n);
  const present = new Uint8Array(BUILTIN_MAX_Z + 1);
  for (let z = 1; z <= BUILTIN_MAX_Z; z++) {
    rows.set(cgcnnAtomVector(z), z * n);
    present[z] = 1;
  }
  return makeTable(n, BUILTIN_MAX_Z, rows, present, "built-in CGCNN");
}

let builtin: AtomFeatureTable | undefined;

/**
 * The default table: CGCNN's 92 features for Z = 1..100 from the built-in element facts
 * (built on first access, then shared; do not modify its rows).
 *
 * @example
 * ```ts
 * import { BUILTIN_ATOM_FEATURES, createModel } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", atomFeatures: BUILTIN_ATOM_FEATURES, device: "cpu" });
 * model.dispose();
 * ```
 */
export const BUILTIN_ATOM_FEATURES: AtomFeatureTable = {
  get length() {
    return CGCNN_ATOM_FEATURE_LENGTH;
  },
  get maxZ() {
    return BUILTIN_MAX_Z;
  },
  get rows() {
    return (builtin ??= buildBuiltin()).rows;
  },
  get source() {
    return "built-in CGCNN";
  },
  has(z: number) {
    return Number.isInteger(z) && z >= 1 && z <= BUILTIN_MAX_Z;
  },
};

/**
 * The whole table as `[(maxZ + 1), length]` (row z = atomic number z; row 0 and unsupported
 * rows zero), for gathering on a device. Returns the table's own array (do not modify).
 *
 * @example
 * ```ts
 * import { atomFeatureTable } from "@facgcnn/toolkit";
 * const rows = atomFeatureTable(); // [(maxZ + 1) × 92], row z = element z
 * console.log(rows.length);
 * ```
 */
export function atomFeatureTable(table: AtomFeatureTable = BUILTIN_ATOM_FEATURES): Float32Array {
  return table.rows;
}

function symbolOrUnknown(z: number): string {
  try {
    return elementSymbol(z);
  } catch {
    return "unknown element";
  }
}

/**
 * Features of each atom: `[nAtoms, table.length]`, row i = table row of `numbers[i]`.
 * Throws an Error naming the atomic number and symbol of the first atom the table lacks.
 *
 * @example
 * ```ts
 * import { atomFeatures } from "@facgcnn/toolkit";
 * const x = atomFeatures(new Int32Array([11, 17])); // [2 × 92] one-hot CGCNN features of Na, Cl
 * console.log(x.length); // 184
 * ```
 */
export function atomFeatures(
  numbers: Int32Array,
  table: AtomFeatureTable = BUILTIN_ATOM_FEATURES,
): Float32Array {
  const len = table.length;
  const rows = table.rows;
  const out = new Float32Array(numbers.length * len);
  for (let i = 0; i < numbers.length; i++) {
    const z = numbers[i];
    if (!table.has(z)) {
      throw new Error(
        `atom ${i}: no features for Z = ${z} (${symbolOrUnknown(z)}) in ${table.source} ` +
          `atom feature table (Z ≤ ${table.maxZ})`,
      );
    }
    out.set(rows.subarray(z * len, (z + 1) * len), i * len);
  }
  return out;
}

/**
 * Parses an `atom_init.json` text: an object whose keys are atomic numbers ("1", "2", …) and
 * whose values are equal-length arrays of finite numbers. `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { parseAtomInit } from "@facgcnn/toolkit";
 * const table = parseAtomInit(JSON.stringify({ "1": [0, 1], "8": [1, 0] }));
 * console.log(table.length, table.has(8)); // 2 true
 * ```
 */
export function parseAtomInit(jsonText: string, source = "atom_init.json"): AtomFeatureTable {
  let data: unknown;
  try {
    data = JSON.parse(jsonText);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`${source}: expected an object mapping atomic numbers to feature arrays`);
  }
  const entries = Object.entries(data as Record<string, unknown>);
  if (entries.length === 0) throw new Error(`${source}: no elements`);
  let length = -1;
  let firstKey = "";
  let maxZ = 0;
  const parsed: [number, number[]][] = [];
  for (const [key, value] of entries) {
    if (!/^\d+$/.test(key.trim()) || Number(key) < 1) {
      throw new Error(`${source}: key "${key}" is not a positive atomic number`);
    }
    const z = Number(key);
    if (!Array.isArray(value)) {
      throw new Error(`${source}: key "${key}": expected an array of numbers`);
    }
    value.forEach((v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new Error(
          `${source}: key "${key}": entry ${j} is ${JSON.stringify(v)}, not a finite number`,
        );
      }
    });
    if (length < 0) {
      length = value.length;
      firstKey = key;
      if (length === 0) throw new Error(`${source}: key "${key}": empty feature array`);
    } else if (value.length !== length) {
      throw new Error(
        `${source}: key "${key}" has ${value.length} features but key "${firstKey}" has ${length}`,
      );
    }
    maxZ = Math.max(maxZ, z);
    parsed.push([z, value as number[]]);
  }
  const rows = new Float32Array((maxZ + 1) * length);
  const present = new Uint8Array(maxZ + 1);
  for (const [z, values] of parsed) {
    if (present[z]) throw new Error(`${source}: atomic number ${z} appears twice`);
    rows.set(values, z * length);
    present[z] = 1;
  }
  return makeTable(length, maxZ, rows, present, source);
}

/**
 * Reads and parses a user's `atom_init.json` (see {@link parseAtomInit}); needs read access.
 *
 * @example
 * ```ts
 * import { createModel, loadAtomInit } from "@facgcnn/toolkit";
 * const atomFeatures = await loadAtomInit("data/my_set/atom_init.json");
 * const model = createModel({ kind: "facgcnn", atomFeatures });
 * ```
 */
export async function loadAtomInit(path: string): Promise<AtomFeatureTable> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read atom feature file ${path}: ${(e as Error).message}`);
  }
  return parseAtomInit(text, path);
}
