/**
 * Reader for the HDF5 layout below (materials-toolkits style, as on public model hubs):
 *
 * | dataset | type | shape |
 * |---|---|---|
 * | `structures/cell` | float | `[n, 3, 3]` rows a, b, c (Å) |
 * | `structures/natoms` | int | `[n]` |
 * | `structures/energy_pa` (or the `target` option) | float | `[n]` |
 * | `structures/atoms_ptr` | int64 | `[n]` first atom of each structure (or `[n + 1]` CSR) |
 * | `atoms/positions` | float | `[N, 3]` |
 * | `atoms/atomic_number` | uint8 | `[N]` |
 *
 * Whether `atoms/positions` are Cartesian (Å) or fractional is not recorded in the file, so the
 * `positions` option is required, and checked: fractional coordinates far outside [−0.5, 1.5]
 * for most structures mean "positions look Cartesian"; Cartesian positions all inside [0, 1]
 * in cells whose edges are all ≥ 2 Å, for most structures, mean "positions look fractional".
 * Both throw. Structures are stored packed (one typed array per quantity); `get(i)` returns
 * views into them, so a 200k-structure file costs no per-structure arrays.
 * @module
 */

import h5wasm, { type Dataset as H5Dataset } from "h5wasm/node";
import type { DatasetEntry, SkippedEntry, Structure } from "../../crystal/types.ts";
import {
  DatasetError,
  errorMessage,
  type LoadedDataset,
  type ReaderOptions,
  requirePath,
  SkipList,
} from "./common.ts";
import { validateStructure, validateTarget } from "./validate.ts";

/** The target dataset read when none is given. */
export const DEFAULT_HDF5_TARGET = "energy_pa";

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

type NumericArray = ArrayLike<number> | BigInt64Array | BigUint64Array;

/** A data set over packed arrays; `get(i)` builds a {@link Structure} of subarray views. */
class PackedDataset implements LoadedDataset {
  readonly skipped: SkippedEntry[];
  readonly source: string;
  readonly target: string;
  readonly #ids: string[];
  readonly #targets: Float64Array;
  readonly #lattices: Float64Array;
  readonly #frac: Float64Array;
  readonly #numbers: Int32Array;
  readonly #offsets: Int32Array;
  constructor(
    parts: {
      ids: string[];
      targets: Float64Array;
      lattices: Float64Array;
      frac: Float64Array;
      numbers: Int32Array;
      offsets: Int32Array;
    },
    skipped: SkippedEntry[],
    source: string,
    target: string,
  ) {
    this.#ids = parts.ids;
    this.#targets = parts.targets;
    this.#lattices = parts.lattices;
    this.#frac = parts.frac;
    this.#numbers = parts.numbers;
    this.#offsets = parts.offsets;
    this.skipped = skipped;
    this.source = source;
    this.target = target;
  }
  get length(): number {
    return this.#ids.length;
  }
  get(i: number): DatasetEntry {
    if (!(i >= 0 && i < this.#ids.length)) {
      throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    }
    const a = this.#offsets[i], b = this.#offsets[i + 1];
    const structure: Structure = {
      id: this.#ids[i],
      lattice: this.#lattices.subarray(9 * i, 9 * i + 9),
      frac: this.#frac.subarray(3 * a, 3 * b),
      numbers: this.#numbers.subarray(a, b),
    };
    return { id: this.#ids[i], structure, target: this.#targets[i] };
  }
}

function num(a: NumericArray, i: number): number {
  return Number(a[i]);
}

/** Inverts a 3×3 row-major matrix; returns null when singular. */
function invert3(m: ArrayLike<number>, out: Float64Array): Float64Array | null {
  const [a, b, c, d, e, f, g, h, k] = [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]];
  const A = e * k - f * h, B = -(d * k - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return null;
  out[0] = A / det;
  out[1] = -(b * k - c * h) / det;
  out[2] = (b * f - c * e) / det;
  out[3] = B / det;
  out[4] = (a * k - c * g) / det;
  out[5] = -(a * f - c * d) / det;
  out[6] = C / det;
  out[7] = -(a * h - b * g) / det;
  out[8] = (a * e - b * d) / det;
  return out;
}

async function checkMagic(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true });
  try {
    // The superblock sits at 0, 512, 1024, 2048, … (after an optional user block).
    const buf = new Uint8Array(8);
    for (const at of [0, 512, 1024, 2048]) {
      await f.seek(at, Deno.SeekMode.Start);
      const n = await f.read(buf);
      if (n !== 8) break;
      if (HDF5_MAGIC.every((v, k) => buf[k] === v)) return;
    }
  } finally {
    f.close();
  }
  throw new DatasetError(`${path}: not an HDF5 file (no HDF5 signature)`);
}

/**
 * Reads an HDF5 file in the materials-toolkits layout (see the module documentation).
 *
 * @param options `positions` is required (`"cartesian"` or `"fractional"`); `target` names a
 *   dataset under `structures/` (default `energy_pa`); `limit`, `strict`, `onSkip` as usual.
 * @returns structure ids are the 0-based row index in the file, as strings.
 * @throws DatasetError for a missing file, a missing/misshapen dataset, a missing or
 *   implausible `positions` mode.
 */
export async function readHdf5(path: string, options: ReaderOptions = {}): Promise<LoadedDataset> {
  const mode = options.positions;
  if (mode !== "cartesian" && mode !== "fractional") {
    throw new DatasetError(
      `${path}: say whether atoms/positions are Cartesian or fractional: pass positions: ` +
        `"cartesian" or positions: "fractional" (the file does not record it, and a wrong ` +
        `guess silently ruins every structure)${
          mode === undefined ? "" : `; got ${JSON.stringify(mode)}`
        }`,
    );
  }
  await requirePath(path, "file", "HDF5 file");
  await checkMagic(path);
  await h5wasm.ready;
  const file = new h5wasm.File(path, "r");
  if (file.file_id < 0n) throw new DatasetError(`${path}: cannot open as HDF5`);
  const targetName = options.target ?? DEFAULT_HDF5_TARGET;
  try {
    const names = [
      "structures/cell",
      "structures/natoms",
      `structures/${targetName}`,
      "structures/atoms_ptr",
      "atoms/positions",
      "atoms/atomic_number",
    ];
    const sets = names.map((name) => {
      const d = file.get(name);
      return d instanceof h5wasm.Dataset ? d : null;
    });
    const missing = names.filter((_, k) => sets[k] === null);
    if (missing.length > 0) {
      let extra = "";
      if (missing.includes(`structures/${targetName}`)) {
        const g = file.get("structures");
        const have = g instanceof h5wasm.Group ? g.keys() : [];
        extra = `; datasets under structures/: ${have.join(", ") || "(none)"}`;
      }
      throw new DatasetError(`${path}: missing HDF5 dataset(s) ${missing.join(", ")}${extra}`);
    }
    const [dCell, dNat, dTarget, dPtr, dPos, dZ] = sets as H5Dataset[];
    const n = dNat.shape?.[0] ?? 0;
    const N = dZ.shape?.[0] ?? 0;
    const shapeErr = (name: string, d: H5Dataset, want: string) =>
      new DatasetError(`${path}: ${name} has shape [${d.shape?.join(", ")}], expected ${want}`);
    const cellSize = (dCell.shape ?? []).reduce((p: number, q: number) => p * q, 1);
    if (dCell.shape?.[0] !== n || cellSize !== 9 * n) {
      throw shapeErr("structures/cell", dCell, `[${n}, 3, 3]`);
    }
    if (dTarget.shape?.[0] !== n) throw shapeErr(`structures/${targetName}`, dTarget, `[${n}]`);
    const ptrLen = dPtr.shape?.[0] ?? -1;
    if (ptrLen !== n && ptrLen !== n + 1) throw shapeErr("structures/atoms_ptr", dPtr, `[${n}]`);
    const posSize = (dPos.shape ?? []).reduce((p: number, q: number) => p * q, 1);
    if (dPos.shape?.[0] !== N || posSize !== 3 * N) {
      throw shapeErr("atoms/positions", dPos, `[${N}, 3]`);
    }
    const read = (d: H5Dataset, name: string): NumericArray => {
      const v = d.value;
      if (v === null || typeof v !== "object" || !("length" in v)) {
        throw new DatasetError(`${path}: ${name} is not a numeric dataset (dtype ${d.dtype})`);
      }
      return v as NumericArray;
    };
    const cell = read(dCell, "structures/cell");
    const natoms = read(dNat, "structures/natoms");
    const target = read(dTarget, `structures/${targetName}`);
    const ptr = read(dPtr, "structures/atoms_ptr");
    const pos = read(dPos, "atoms/positions");
    const zs = read(dZ, "atoms/atomic_number");
    return buildDataset(path, mode, targetName, options, {
      n,
      N,
      cell,
      natoms,
      target,
      ptr,
      pos,
      zs,
    });
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${path}: cannot read HDF5: ${errorMessage(e)}`);
  } finally {
    file.close();
  }
}

function buildDataset(
  path: string,
  mode: "cartesian" | "fractional",
  targetName: string,
  options: ReaderOptions,
  d: {
    n: number;
    N: number;
    cell: NumericArray;
    natoms: NumericArray;
    target: NumericArray;
    ptr: NumericArray;
    pos: NumericArray;
    zs: NumericArray;
  },
): LoadedDataset {
  const { n, N } = d;
  const skips = new SkipList(options);
  const limit = options.limit ?? Infinity;
  const lattice = new Float64Array(9);
  const inv = new Float64Array(9);

  // File-wide plausibility of the positions mode, before any structure is used.
  let eligible = 0, suspicious = 0;
  for (let i = 0; i < n; i++) {
    const start = num(d.ptr, i), count = num(d.natoms, i);
    if (!(count >= 1 && start >= 0 && start + count <= N)) continue;
    for (let k = 0; k < 9; k++) lattice[k] = num(d.cell, 9 * i + k);
    if (mode === "fractional") {
      eligible++;
      for (let k = 3 * start; k < 3 * (start + count); k++) {
        const v = num(d.pos, k);
        if (v < -0.5 || v > 1.5) {
          suspicious++;
          break;
        }
      }
    } else {
      const minLen = Math.min(
        Math.hypot(lattice[0], lattice[1], lattice[2]),
        Math.hypot(lattice[3], lattice[4], lattice[5]),
        Math.hypot(lattice[6], lattice[7], lattice[8]),
      );
      if (!(minLen >= 2) || count < 2) continue;
      eligible++;
      let inUnit = true;
      for (let k = 3 * start; k < 3 * (start + count) && inUnit; k++) {
        const v = num(d.pos, k);
        inUnit = v >= 0 && v <= 1;
      }
      if (inUnit) suspicious++;
    }
  }
  if (eligible > 0 && suspicious * 2 > eligible) {
    throw new DatasetError(
      mode === "fractional"
        ? `${path}: positions look Cartesian: ${suspicious} of ${eligible} structures have ` +
          `fractional coordinates outside [-0.5, 1.5]; pass positions: "cartesian" if they are in Å`
        : `${path}: positions look fractional: in ${suspicious} of ${eligible} structures with ` +
          `cell edges ≥ 2 Å all Cartesian coordinates lie in [0, 1]; pass positions: "fractional"`,
    );
  }

  // Gather the usable structures into packed arrays.
  const keep: number[] = [];
  let totalAtoms = 0;
  const fracAll = new Float64Array(3 * N);
  for (let i = 0; i < n && keep.length < limit; i++) {
    const id = String(i);
    const where = `${path}: structure ${i}`;
    const start = num(d.ptr, i), count = num(d.natoms, i);
    if (!(Number.isInteger(count) && count >= 1)) {
      skips.skip(id, `${where}: structures/natoms is ${count} (need ≥ 1)`);
      continue;
    }
    if (!(Number.isInteger(start) && start >= 0 && start + count <= N)) {
      skips.skip(
        id,
        `${where}: atoms_ptr ${start} + natoms ${count} points outside atoms/ (${N} atoms)`,
      );
      continue;
    }
    if (d.ptr.length === n + 1 && num(d.ptr, i + 1) - start !== count) {
      skips.skip(id, `${where}: atoms_ptr range ${num(d.ptr, i + 1) - start} ≠ natoms ${count}`);
      continue;
    }
    for (let k = 0; k < 9; k++) lattice[k] = num(d.cell, 9 * i + k);
    const frac = fracAll.subarray(3 * start, 3 * (start + count));
    if (mode === "fractional") {
      for (let k = 0; k < 3 * count; k++) frac[k] = num(d.pos, 3 * start + k);
    } else if (invert3(lattice, inv) !== null) {
      for (let a = 0; a < count; a++) {
        const x = num(d.pos, 3 * (start + a)),
          y = num(d.pos, 3 * (start + a) + 1),
          z = num(d.pos, 3 * (start + a) + 2);
        for (let c = 0; c < 3; c++) frac[3 * a + c] = x * inv[c] + y * inv[3 + c] + z * inv[6 + c];
      }
    } // a singular lattice is reported by validateStructure (zero volume) below.
    const numbers = new Int32Array(count);
    for (let a = 0; a < count; a++) numbers[a] = num(d.zs, start + a);
    const s: Structure = { id, lattice, frac, numbers };
    const t = num(d.target, i);
    const bad = validateStructure(s, options) ?? validateTarget(t, targetName);
    if (bad !== null) {
      skips.skip(id, `${where}: ${bad}`);
      continue;
    }
    keep.push(i);
    totalAtoms += count;
  }

  const m = keep.length;
  const ids: string[] = new Array(m);
  const targets = new Float64Array(m);
  const lattices = new Float64Array(9 * m);
  const frac = new Float64Array(3 * totalAtoms);
  const numbers = new Int32Array(totalAtoms);
  const offsets = new Int32Array(m + 1);
  let at = 0;
  for (let c = 0; c < m; c++) {
    const i = keep[c];
    const start = num(d.ptr, i), count = num(d.natoms, i);
    ids[c] = String(i);
    targets[c] = num(d.target, i);
    for (let k = 0; k < 9; k++) lattices[9 * c + k] = num(d.cell, 9 * i + k);
    frac.set(fracAll.subarray(3 * start, 3 * (start + count)), 3 * at);
    for (let a = 0; a < count; a++) numbers[at + a] = num(d.zs, start + a);
    at += count;
    offsets[c + 1] = at;
  }
  return new PackedDataset(
    { ids, targets, lattices, frac, numbers, offsets },
    skips.items,
    path,
    targetName,
  );
}

/** Options of {@link writeHdf5}. */
export interface WriteHdf5Options {
  /** Store `atoms/positions` as Cartesian Å (default) or fractional coordinates. */
  positions?: "cartesian" | "fractional";
  /** Name of the target dataset under `structures/` (default `energy_pa`). */
  target?: string;
}

/**
 * Writes structures and targets in the materials-toolkits layout (float32 cell/positions/target,
 * int32 natoms, int64 atoms_ptr `[n]` of first-atom offsets, uint8 atomic numbers). Useful to
 * convert a data set, and for tests. Note float32 storage: coordinates keep about 7 digits.
 */
export async function writeHdf5(
  path: string,
  entries: readonly { structure: Structure; target: number }[],
  options: WriteHdf5Options = {},
): Promise<void> {
  await h5wasm.ready;
  const n = entries.length;
  let N = 0;
  for (const e of entries) N += e.structure.numbers.length;
  const cell = new Float32Array(9 * n);
  const natoms = new Int32Array(n);
  const target = new Float32Array(n);
  const ptr = new BigInt64Array(n);
  const pos = new Float32Array(3 * N);
  const zs = new Uint8Array(N);
  let at = 0;
  entries.forEach(({ structure: s, target: t }, i) => {
    const count = s.numbers.length;
    cell.set(s.lattice, 9 * i);
    natoms[i] = count;
    target[i] = t;
    ptr[i] = BigInt(at);
    const L = s.lattice, f = s.frac;
    for (let a = 0; a < count; a++) {
      zs[at + a] = s.numbers[a];
      for (let c = 0; c < 3; c++) {
        pos[3 * (at + a) + c] = options.positions === "fractional"
          ? f[3 * a + c]
          : f[3 * a] * L[c] + f[3 * a + 1] * L[3 + c] + f[3 * a + 2] * L[6 + c];
      }
    }
    at += count;
  });
  const file = new h5wasm.File(path, "w");
  if (file.file_id < 0n) throw new DatasetError(`${path}: cannot create HDF5 file`);
  try {
    const g = file.create_group("structures");
    g.create_dataset({ name: "cell", data: cell, shape: [n, 3, 3], dtype: "<f" });
    g.create_dataset({ name: "natoms", data: natoms, shape: [n], dtype: "<i" });
    g.create_dataset({
      name: options.target ?? DEFAULT_HDF5_TARGET,
      data: target,
      shape: [n],
      dtype: "<f",
    });
    g.create_dataset({ name: "atoms_ptr", data: ptr, shape: [n], dtype: "<q" });
    const a = file.create_group("atoms");
    a.create_dataset({ name: "positions", data: pos, shape: [N, 3], dtype: "<f" });
    a.create_dataset({ name: "atomic_number", data: zs, shape: [N], dtype: "|B" });
  } finally {
    file.close();
  }
}
