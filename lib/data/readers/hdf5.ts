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

// A full npm: specifier (same version as deno.json's import map) so scripts outside the
// repository can import mod.ts without the repository's deno.json.
// deno-lint-ignore no-import-prefix
import h5wasm, { type Dataset as H5Dataset } from "npm:h5wasm@0.10.3/node";
import type { DatasetEntry, SkippedEntry, Structure } from "../../crystal/types.ts";
import {
  DatasetError,
  errorMessage,
  type LoadedDataset,
  type ReaderOptions,
  requirePath,
  SkipList,
  targetProblem,
} from "./common.ts";
import { validateStructure } from "./validate.ts";

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

/**
 * Finds the HDF5 superblock (at 0, 512, 1024, 2048, … after an optional user block) and
 * returns the end-of-file address it records, so a truncated file is named as such before the
 * C library is asked to open it. Null when the superblock version is one we do not decode.
 */
async function checkSignature(path: string, size: number): Promise<number | null> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(64);
    for (const at of [0, 512, 1024, 2048]) {
      await f.seek(at, Deno.SeekMode.Start);
      let n = 0;
      while (n < buf.length) {
        const r = await f.read(buf.subarray(n));
        if (r === null) break;
        n += r;
      }
      if (n < 8) break;
      if (!HDF5_MAGIC.every((v, k) => buf[k] === v)) continue;
      return at + (superblockEof(buf.subarray(0, n)) ?? NaN);
    }
  } finally {
    f.close();
  }
  throw new DatasetError(
    size < 8
      ? `truncated or not HDF5: ${path} (${size} bytes)`
      : `${path}: not an HDF5 file (no HDF5 signature)`,
  );
}

/**
 * The "end of file address" field of a version 0–3 superblock (HDF5 file format
 * specification, "Superblock"), relative to the base address; null if not decodable.
 */
function superblockEof(b: Uint8Array): number | null {
  const version = b[8];
  let sizeOfOffsets: number, at: number;
  if (version === 0 || version === 1) {
    sizeOfOffsets = b[13];
    // signature 8, 4 version bytes, reserved, offsets/lengths sizes, reserved, 2 K's, flags
    at = 24 + (version === 1 ? 4 : 0) + 2 * sizeOfOffsets;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = b[9];
    at = 12 + 2 * sizeOfOffsets;
  } else return null;
  if (sizeOfOffsets < 2 || sizeOfOffsets > 8 || at + sizeOfOffsets > b.length) return null;
  let v = 0;
  for (let k = sizeOfOffsets - 1; k >= 0; k--) v = v * 256 + b[at + k];
  return Number.isSafeInteger(v) ? v : null;
}

/**
 * Runs `fn` with h5wasm's throwing error handler, so the C library's diagnostics become an
 * exception instead of ~25 lines on stderr.
 */
async function quietly<T>(fn: () => T): Promise<T> {
  const m = (await h5wasm.ready) as unknown as {
    activate_throwing_error_handler?: () => void;
    deactivate_throwing_error_handler?: () => void;
  };
  m.activate_throwing_error_handler?.();
  try {
    return fn();
  } finally {
    m.deactivate_throwing_error_handler?.();
  }
}

/** The most specific line of an HDF5 error stack ("minor: …" or the last "#nnn" frame). */
function hdf5Reason(e: unknown): string {
  const text = errorMessage(e);
  const frames = text.split("\n").filter((l) => /^\s*#\d+:/.test(l));
  const last = frames.at(-1);
  if (last === undefined) return text.split("\n")[0];
  return last.replace(/^\s*#\d+:.*?\(\):\s*/, "").trim();
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
  const info = await requirePath(path, "file", "HDF5 file");
  const eof = await checkSignature(path, info.size);
  if (eof !== null && info.size < eof) {
    throw new DatasetError(
      `truncated or not HDF5: ${path} (${info.size} bytes; its header says ${eof} bytes)`,
    );
  }
  let file: InstanceType<typeof h5wasm.File>;
  try {
    file = await quietly(() => new h5wasm.File(path, "r"));
  } catch (e) {
    throw new DatasetError(`truncated or not HDF5: ${path} (${info.size} bytes): ${hdf5Reason(e)}`);
  }
  if (file.file_id < 0n) {
    throw new DatasetError(`truncated or not HDF5: ${path} (${info.size} bytes)`);
  }
  const targetName = options.target ?? DEFAULT_HDF5_TARGET;
  try {
    return await quietly(() => readOpened(file, path, mode, targetName, options));
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${path}: cannot read HDF5 (${info.size} bytes): ${hdf5Reason(e)}`);
  } finally {
    file.close();
  }
}

function readOpened(
  file: InstanceType<typeof h5wasm.File>,
  path: string,
  mode: "cartesian" | "fractional",
  targetName: string,
  options: ReaderOptions,
): LoadedDataset {
  {
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
    // Prediction inputs may have no target dataset at all: every target is then NaN.
    const noTarget = options.targets === "optional" && sets[2] === null;
    const missing = names.filter((_, k) => sets[k] === null && !(noTarget && k === 2));
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
    if (!noTarget && dTarget.shape?.[0] !== n) {
      throw shapeErr(`structures/${targetName}`, dTarget, `[${n}]`);
    }
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
    const target = noTarget
      ? new Float64Array(n).fill(NaN)
      : read(dTarget, `structures/${targetName}`);
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
  }
}

/**
 * Checks the whole atom index before any structure is read: every `natoms` a non-negative
 * integer, every `atoms_ptr` an integer, and the ranges `[ptr[i], ptr[i] + natoms[i])` packed
 * one after the other from atom 0 to the last atom — no overlap, repeat, backward step, gap or
 * range past the end, and with a CSR `[n + 1]` pointer, `ptr[i + 1] − ptr[i] = natoms[i]`.
 * A broken index cannot be blamed on one structure (an overlap silently hands one
 * structure's atoms to its neighbour), so the file is rejected as a whole.
 */
function checkIndex(
  path: string,
  n: number,
  N: number,
  natoms: NumericArray,
  ptr: NumericArray,
): void {
  const problems: string[] = [];
  let count = 0;
  const problem = (text: string) => {
    if (count++ < 3) problems.push(text);
  };
  const csr = ptr.length === n + 1;
  let expected = 0; // where structure i must start in a packed layout
  for (let i = 0; i < n; i++) {
    const start = num(ptr, i), k = num(natoms, i);
    if (!(Number.isInteger(k) && k >= 0)) {
      problem(`structure ${i}: natoms is ${k} (need an integer ≥ 0)`);
      continue;
    }
    if (!(Number.isSafeInteger(start) && start >= 0)) {
      problem(`structure ${i}: atoms_ptr is ${start} (need an integer ≥ 0)`);
      continue;
    }
    if (start + k > N) {
      problem(
        `structure ${i}: atoms ${start}..${start + k - 1} run past the end of atoms/ (${N} atoms)`,
      );
    } else if (start < expected) {
      problem(
        i > 0 && start <= num(ptr, i - 1)
          ? `structure ${i}: atoms_ptr ${start} does not increase (structure ${i - 1} starts at ${
            num(ptr, i - 1)
          })`
          : `structure ${i}: atoms ${start}..${start + k - 1} overlap structure ${
            i - 1
          } (which ends at atom ${expected - 1})`,
      );
    } else if (start > expected) {
      problem(
        `structure ${i}: atoms_ptr ${start} leaves atoms ${expected}..${
          start - 1
        } unused (natoms of structure ${i - 1} disagrees with atoms_ptr)`,
      );
    }
    if (csr && num(ptr, i + 1) - start !== k) {
      problem(`structure ${i}: atoms_ptr range ${num(ptr, i + 1) - start} ≠ natoms ${k}`);
    }
    expected = Math.max(expected, start + k);
  }
  if (count === 0 && expected !== N) {
    problem(`the structures use ${expected} atoms but atoms/ has ${N}`);
  }
  if (count > 0) {
    throw new DatasetError(
      `${path}: inconsistent atom index (structures/atoms_ptr, structures/natoms): ${count} ` +
        `problem(s), no structure was read: ${problems.join("; ")}${count > 3 ? "; …" : ""}`,
    );
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
  checkIndex(path, n, N, d.natoms, d.ptr);
  const skips = new SkipList(options);
  const limit = options.limit ?? Infinity;
  const lattice = new Float64Array(9);
  const inv = new Float64Array(9);

  // File-wide plausibility of the positions mode, before any structure is used.
  let eligible = 0, suspicious = 0;
  for (let i = 0; i < n; i++) {
    const start = num(d.ptr, i), count = num(d.natoms, i);
    if (count < 1) continue;
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

  // Each usable structure is converted into its own slot of the packed output (never into a
  // view shared with another structure); a skipped structure's slot is reused by the next.
  const ids: string[] = [];
  const targets: number[] = [];
  const lattices = new Float64Array(9 * n);
  const frac = new Float64Array(3 * N);
  const numbers = new Int32Array(N);
  const offsets: number[] = [0];
  let at = 0;
  for (let i = 0; i < n && ids.length < limit; i++) {
    const id = String(i);
    const where = `${path}: structure ${i}`;
    const start = num(d.ptr, i), count = num(d.natoms, i);
    if (count < 1) {
      skips.skip(id, `${where}: structures/natoms is ${count} (need ≥ 1)`);
      continue;
    }
    const c = ids.length;
    const L = lattices.subarray(9 * c, 9 * c + 9);
    for (let k = 0; k < 9; k++) L[k] = num(d.cell, 9 * i + k);
    const f = frac.subarray(3 * at, 3 * (at + count));
    if (mode === "fractional") {
      for (let k = 0; k < 3 * count; k++) f[k] = num(d.pos, 3 * start + k);
    } else if (invert3(L, inv) !== null) {
      for (let a = 0; a < count; a++) {
        const x = num(d.pos, 3 * (start + a)),
          y = num(d.pos, 3 * (start + a) + 1),
          z = num(d.pos, 3 * (start + a) + 2);
        for (let q = 0; q < 3; q++) f[3 * a + q] = x * inv[q] + y * inv[3 + q] + z * inv[6 + q];
      }
    } // a singular lattice is reported by validateStructure (zero volume) below.
    const zs = numbers.subarray(at, at + count);
    for (let a = 0; a < count; a++) zs[a] = num(d.zs, start + a);
    const s: Structure = { id, lattice: L, frac: f, numbers: zs };
    const t = num(d.target, i);
    const bad = validateStructure(s, options) ?? targetProblem(t, targetName, options);
    if (bad !== null) {
      skips.skip(id, `${where}: ${bad}`);
      continue;
    }
    ids.push(id);
    targets.push(t);
    at += count;
    offsets.push(at);
  }
  const m = ids.length;
  return new PackedDataset(
    {
      ids,
      targets: Float64Array.from(targets),
      lattices: lattices.slice(0, 9 * m),
      frac: frac.slice(0, 3 * at),
      numbers: numbers.slice(0, at),
      offsets: Int32Array.from(offsets),
    },
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
