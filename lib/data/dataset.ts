/**
 * `loadDataset`: one entry point for every data source users have: a CGCNN folder, a CSV with a
 * `cif` column, an HDF5 file, or `synthetic:N[:seed]`.
 *
 * Policy: every structure is validated (cell volume, coordinates, elements, overlaps, target);
 * a bad one is skipped and listed in `skipped` with a reason naming the file, the line or
 * structure id and what is wrong, and the load goes on. `strict: true` throws on the first bad
 * one instead. A source that is missing or unreadable as a whole always throws. A one-line
 * summary goes to stderr unless `quiet`.
 * @module
 */

import type { SkippedEntry } from "../crystal/types.ts";
import { syntheticCrystals } from "./synthetic.ts";
import { readCgcnnDir } from "./readers/cgcnn_dir.ts";
import { readCifFiles } from "./readers/cif_files.ts";
import { readCsvCif } from "./readers/csv_cif.ts";
import { readHdf5 } from "./readers/hdf5.ts";
import {
  DatasetError,
  errorMessage,
  type LoadedDataset,
  type ReaderOptions,
} from "./readers/common.ts";

export { DatasetError, type LoadedDataset } from "./readers/common.ts";

/**
 * Data-source formats; `"auto"` picks one from the source string.
 */
export type DatasetFormat = "auto" | "cgcnn" | "cif" | "csv" | "hdf5" | "synthetic";

/**
 * Options of {@link loadDataset}.
 */
export interface LoadDatasetOptions extends ReaderOptions {
  /**
   * Default `"auto"`: `synthetic:` prefix, a folder → cgcnn (with `targets: "optional"`, a
   * folder without id_prop.csv is read as plain CIFs), `.cif` → cif (prediction only), `.csv`
   * → csv, `.h5`/`.hdf5` → hdf5.
   */
  format?: DatasetFormat;
  /** Print no summary line to stderr. */
  quiet?: boolean;
}

/** Largest `synthetic:N`: structures are generated on demand, but ids and caches scale with N. */
export const MAX_SYNTHETIC_COUNT = 10_000_000;

/**
 * Parses `synthetic:N` or `synthetic:N:seed` (seed default 0); null when not that form.
 * Throws a {@link DatasetError} for N outside 1..{@link MAX_SYNTHETIC_COUNT} or a seed that
 * is not a safe integer (instead of an "Invalid array length" deep inside).
 */
export function parseSyntheticSource(source: string): { count: number; seed: number } | null {
  const m = /^synthetic:(\d+)(?::(-?\d+))?$/.exec(source.trim());
  if (m === null) return null;
  const count = Number(m[1]), seed = m[2] === undefined ? 0 : Number(m[2]);
  if (!(count >= 1 && count <= MAX_SYNTHETIC_COUNT)) {
    throw new DatasetError(
      `bad synthetic source ${JSON.stringify(source)}: the size ${m[1]} must be between 1 ` +
        `and ${MAX_SYNTHETIC_COUNT}`,
    );
  }
  if (!Number.isSafeInteger(seed)) {
    throw new DatasetError(
      `bad synthetic source ${JSON.stringify(source)}: the seed ${m[2]} is not a safe integer`,
    );
  }
  return { count, seed };
}

/** Resolves `"auto"` to a concrete format by looking at the source (stat for folders). */
export async function detectFormat(
  source: string,
  format: DatasetFormat = "auto",
): Promise<Exclude<DatasetFormat, "auto">> {
  if (format !== "auto") return format;
  if (source.startsWith("synthetic:")) return "synthetic";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(source);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        `data source not found: ${source} (expected a CGCNN folder, a .csv, an .h5/.hdf5 ` +
          `file or synthetic:N)`,
      );
    }
    throw new DatasetError(`cannot read data source ${source}: ${errorMessage(e)}`);
  }
  const lower = source.toLowerCase();
  if (info.isDirectory) return "cgcnn";
  if (lower.endsWith(".cif")) return "cif";
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".h5") || lower.endsWith(".hdf5")) return "hdf5";
  throw new DatasetError(
    `${source}: cannot tell the format from the name; pass format: "cgcnn" | "cif" | "csv" | "hdf5"`,
  );
}

/**
 * Loads a labelled data set.
 *
 * @param source a CGCNN folder, a `.csv` with a `cif` column, an `.h5`/`.hdf5` file, or
 *   `synthetic:N` / `synthetic:N:seed`.
 * @param options `format`, `target`, `idColumn`, `limit`, `strict`, `positions` (HDF5, required
 *   there), `occupancy`, `onSkip`, `quiet`, `minDistance` (overlap threshold, Å).
 * @returns a {@link LoadedDataset}: entries, `skipped` (id + reason), `source`, and
 *   `atomFeatures` when a CGCNN folder has its own `atom_init.json`.
 * @throws DatasetError when the source as a whole is unusable, or on the first bad structure
 *   with `strict: true`.
 *
 * @example
 * ```ts
 * import { loadDataset } from "@facgcnn/toolkit";
 * const data = await loadDataset("synthetic:100"); // or a CGCNN folder, a CSV-with-CIF, an HDF5 file
 * const { id, structure, target } = data.get(0);
 * console.log(data.length, id, structure.numbers.length, target);
 * ```
 */
export async function loadDataset(
  source: string,
  options: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  const format = await detectFormat(source, options.format);
  let ds: LoadedDataset;
  switch (format) {
    case "synthetic": {
      const spec = parseSyntheticSource(source);
      if (spec === null) {
        throw new DatasetError(
          `bad synthetic source ${JSON.stringify(source)}: use synthetic:N or synthetic:N:seed`,
        );
      }
      const count = Math.min(spec.count, options.limit ?? Infinity);
      const gen = syntheticCrystals({ count, seed: spec.seed });
      ds = gen.source === source ? gen : withSource(gen, source);
      break;
    }
    case "cgcnn":
      // Without id_prop.csv a folder holds plain CIFs: fine for prediction (no targets);
      // for training the CGCNN reader names the missing id_prop.csv.
      ds = options.targets === "optional" && !(await isFile(`${source}/id_prop.csv`))
        ? await readCifFiles(source, options)
        : await readCgcnnDir(source, options);
      break;
    case "cif":
      if (options.targets !== "optional") {
        throw new DatasetError(
          `${source}: plain CIF files carry no targets; training needs a CGCNN folder ` +
            `(id_prop.csv + <id>.cif), a CSV with a cif column or an HDF5 file ` +
            `(deno task predict reads plain CIFs)`,
        );
      }
      ds = await readCifFiles(source, options);
      break;
    case "csv":
      ds = await readCsvCif(source, options);
      break;
    case "hdf5":
      ds = await readHdf5(source, options);
      break;
  }
  if (!options.quiet) console.error(summaryLine(source, ds.length, ds.skipped));
  return ds;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function withSource(ds: LoadedDataset, source: string): LoadedDataset {
  return {
    get length() {
      return ds.length;
    },
    get: (i: number) => ds.get(i),
    skipped: ds.skipped,
    source,
  };
}

/**
 * The summary printed after a load: `loaded N structures from X` plus, when some were
 * skipped, how many and the first few reasons.
 */
export function summaryLine(source: string, loaded: number, skipped: SkippedEntry[]): string {
  if (skipped.length === 0) return `loaded ${loaded} structures from ${source}`;
  const shown = skipped.slice(0, 3).map((s) => `\n  - ${s.reason}`).join("");
  const more = skipped.length > 3 ? `\n  … ${skipped.length - 3} more` : "";
  return `loaded ${loaded} structures from ${source}, skipped ${skipped.length}: ` +
    `see the data set's skipped list${shown}${more}`;
}
