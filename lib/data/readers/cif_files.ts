/**
 * Plain CIF files as a data set: one `.cif` file, or every `.cif` file of a folder that has no
 * `id_prop.csv` (so not a CGCNN folder). The id of a structure is its file name without
 * `.cif`; there are no targets (NaN), so this is an input for prediction, not for training.
 * @module
 */

import type { DatasetEntry } from "../../crystal/types.ts";
import {
  cifEntry,
  DatasetError,
  errorMessage,
  ListDataset,
  type LoadedDataset,
  type ReaderOptions,
  SkipList,
} from "./common.ts";

/** The `.cif` files a source names: itself, or a folder's, sorted by name. */
export async function cifFilesOf(source: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(source);
  } catch (e) {
    throw new DatasetError(`cannot read ${source}: ${errorMessage(e)}`);
  }
  if (info.isFile) return [source];
  const files: string[] = [];
  for await (const e of Deno.readDir(source)) {
    if (e.isFile && e.name.toLowerCase().endsWith(".cif")) files.push(e.name);
  }
  files.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (files.length === 0) {
    throw new DatasetError(
      `${source}: no id_prop.csv and no .cif files (expected a CGCNN folder or a folder of CIFs)`,
    );
  }
  return files.map((f) => `${source.replace(/\/+$/, "")}/${f}`);
}

/**
 * Reads plain CIF files (see the module comment); unreadable or invalid files are skipped
 * (or throw, `strict`) with the file and line named. Targets are NaN.
 */
export async function readCifFiles(
  source: string,
  options: ReaderOptions = {},
): Promise<LoadedDataset> {
  const files = await cifFilesOf(source);
  const skips = new SkipList(options);
  const entries: DatasetEntry[] = [];
  const limit = options.limit ?? Infinity;
  for (const path of files) {
    if (entries.length >= limit) break;
    const id = path.slice(path.lastIndexOf("/") + 1).replace(/\.cif$/i, "");
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      skips.skip(id, `cannot read ${path}: ${errorMessage(e)}`);
      continue;
    }
    const entry = cifEntry(text, path, id, NaN, skips, { ...options, targets: "optional" });
    if (entry !== null) entries.push(entry);
  }
  return new ListDataset(entries, skips.items, { source });
}
