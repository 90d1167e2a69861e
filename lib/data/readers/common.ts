/**
 * Pieces shared by the data-set readers: the loaded data-set type, reader options, the
 * skip/strict policy and an in-memory data set over a list of entries.
 * @module
 */

import type { Dataset, DatasetEntry, SkippedEntry, Structure } from "../../crystal/types.ts";
import type { AtomFeatureTable } from "../../crystal/atom_features.ts";
import { CifError, parseCif } from "../../crystal/cif.ts";
import { type ValidateOptions, validateStructure, validateTarget } from "./validate.ts";

/**
 * A {@link Dataset} as returned by the loaders, with what else the source provided.
 */
export interface LoadedDataset extends Dataset {
  /** The folder's own `atom_init.json` (CGCNN layout), to be used instead of the built-in table. */
  readonly atomFeatures?: AtomFeatureTable;
  /** Name of the target column/dataset that was read (e.g. `formation_energy_per_atom`). */
  readonly target?: string;
}

/**
 * Options every reader understands (a subset of `loadDataset`'s).
 */
export interface ReaderOptions extends ValidateOptions {
  /** Target column (CSV) or dataset under `structures/` (HDF5). */
  target?: string;
  /** CSV id column; default `material_id`, else the 1-based data row number. */
  idColumn?: string;
  /** Keep at most this many structures; reading stops once that many are loaded. */
  limit?: number;
  /** Throw a {@link DatasetError} on the first bad structure instead of skipping it. */
  strict?: boolean;
  /** CIF partial occupancy: `"error"` (default, skip the structure) or `"majority"` species. */
  occupancy?: "error" | "majority";
  /** HDF5 only: whether `atoms/positions` are Cartesian (Å) or fractional. Required there. */
  positions?: "cartesian" | "fractional";
  /** Called for every skipped structure as it happens. */
  onSkip?: (entry: SkippedEntry) => void;
  /**
   * `"required"` (default): a structure without a finite target is skipped. `"optional"`
   * (prediction inputs): a missing target column or dataset, or an empty cell, gives target
   * NaN; a value that is present but not a number is still skipped.
   */
  targets?: "required" | "optional";
}

/** Why target `t` is unusable, or null; a NaN target is fine when targets are optional. */
export function targetProblem(
  t: number,
  name: string,
  options: { targets?: "required" | "optional" },
): string | null {
  if (Number.isNaN(t) && options.targets === "optional") return null;
  return validateTarget(t, name);
}

/**
 * A bad structure in strict mode, or a bad source as a whole; `id` names the structure.
 *
 * @example
 * ```ts
 * import { DatasetError, loadDataset } from "@facgcnn/toolkit";
 * try {
 *   await loadDataset("broken.csv", { strict: true });
 * } catch (e) {
 *   if (e instanceof DatasetError) console.log(e.id, e.message);
 * }
 * ```
 */
export class DatasetError extends Error {
  /** Structure id, or `""` for a problem of the whole source. */
  readonly id: string;
  /** An error with `message` (naming the file) about structure `id` ("" for the whole source). */
  constructor(message: string, id = "") {
    super(message);
    this.name = "DatasetError";
    this.id = id;
  }
}

/** Collects skipped structures, or throws on the first one in strict mode. */
export class SkipList {
  /** The skipped structures so far, in load order. */
  readonly items: SkippedEntry[] = [];
  #strict: boolean;
  #onSkip?: (e: SkippedEntry) => void;
  /** Uses `strict` and `onSkip` of the reader options. */
  constructor(options: ReaderOptions) {
    this.#strict = options.strict ?? false;
    this.#onSkip = options.onSkip;
  }
  /** Records (or, strict, throws) that structure `id` is unusable; `reason` names file/line/what. */
  skip(id: string, reason: string): void {
    if (this.#strict) throw new DatasetError(`${reason} (strict mode)`, id);
    const e = { id, reason };
    this.items.push(e);
    this.#onSkip?.(e);
  }
}

/**
 * The one duplicate-id policy of every reader: the first usable structure with an id is kept
 * and every later row with that id is skipped, with a reason naming where the kept one is.
 * (Keeping both would make ids ambiguous in predictions, splits and skipped lists; HDF5 ids
 * are row numbers and cannot repeat.)
 */
export class SeenIds {
  #where = new Map<string, string>();
  /** The skip reason when `id` is already kept, else null. `where` prefixes the reason. */
  duplicate(id: string, where: string): string | null {
    const first = this.#where.get(id);
    return first === undefined
      ? null
      : `${where}: duplicate id ${JSON.stringify(id)} (kept the first, ${first})`;
  }
  /** Records that the structure `id` read at `where` is kept. */
  keep(id: string, where: string): void {
    this.#where.set(id, where);
  }
}

/**
 * Validates a parsed structure and its target; returns the reason it is unusable or `null`.
 * `where` is the file (and line) prefix used in the message.
 */
export function checkEntry(
  s: Structure,
  target: number,
  targetName: string,
  where: string,
  options: ValidateOptions & { targets?: "required" | "optional" },
): string | null {
  const bad = validateStructure(s, options) ?? targetProblem(target, targetName, options);
  return bad === null ? null : `${where}: structure ${JSON.stringify(s.id)}: ${bad}`;
}

/**
 * One CIF file's text → a checked entry, or `null` after recording in `skips` why it was left
 * out (parse error with file and line, or a structure/target problem). Shared by the readers
 * of CGCNN folders and of plain CIF files.
 */
export function cifEntry(
  text: string,
  path: string,
  id: string,
  target: number,
  skips: SkipList,
  options: ReaderOptions & { targets?: "required" | "optional" },
): DatasetEntry | null {
  let structure;
  try {
    structure = parseCif(text, { id, occupancy: options.occupancy });
  } catch (e) {
    skips.skip(id, cifProblem(e, path, 1, id));
    return null;
  }
  structure.id = id;
  const bad = checkEntry(structure, target, "target", path, options);
  if (bad !== null) {
    skips.skip(id, bad);
    return null;
  }
  return { id, structure, target };
}

/** An in-memory data set over a list of entries. */
export class ListDataset implements LoadedDataset {
  readonly skipped: SkippedEntry[];
  readonly source?: string;
  readonly atomFeatures?: AtomFeatureTable;
  readonly target?: string;
  #entries: DatasetEntry[];
  /** Wraps `entries` (kept by reference) with the skipped list and source details. */
  constructor(
    entries: DatasetEntry[],
    skipped: SkippedEntry[],
    extra: { source?: string; atomFeatures?: AtomFeatureTable; target?: string } = {},
  ) {
    this.#entries = entries;
    this.skipped = skipped;
    this.source = extra.source;
    this.atomFeatures = extra.atomFeatures;
    this.target = extra.target;
  }
  /** Number of entries. */
  get length(): number {
    return this.#entries.length;
  }
  /** Entry `i` (0-based); throws RangeError outside `[0, length)`. */
  get(i: number): DatasetEntry {
    const e = this.#entries[i];
    if (e === undefined) throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    return e;
  }
}

/** The message of any thrown value (h5wasm throws strings). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Throws a clear error when `path` does not exist (or is not of the expected kind). */
export async function requirePath(
  path: string,
  kind: "file" | "directory",
  what: string,
): Promise<Deno.FileInfo> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError(`${what} not found: ${path}`);
    }
    throw new DatasetError(`cannot read ${what} ${path}: ${errorMessage(e)}`);
  }
  if (kind === "file" && !info.isFile) throw new DatasetError(`${what} is not a file: ${path}`);
  if (kind === "directory" && !info.isDirectory) {
    throw new DatasetError(`${what} is not a directory: ${path}`);
  }
  return info;
}

/**
 * The skip reason for a CIF that failed to parse: `<file>:<line>: structure "<id>": <what>`.
 * `firstLine` is the file line on which the CIF text starts (1 for a .cif file; the line of
 * the `cif` cell for a CSV), so the CIF parser's line becomes a line of `file`.
 */
export function cifProblem(e: unknown, file: string, firstLine: number, id: string): string {
  if (e instanceof CifError) {
    const where = e.line === undefined ? file : `${file}:${firstLine + e.line - 1}`;
    return `${where}: structure ${JSON.stringify(id)}: ${e.reason}`;
  }
  return `${file}: structure ${JSON.stringify(id)}: ${errorMessage(e)}`;
}
