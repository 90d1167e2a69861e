/**
 * Reader for CGCNN's data folder: `id_prop.csv` (rows `id,target`, no header), one
 * `<id>.cif` per row, and optionally the folder's own `atom_init.json`.
 *
 * Header tolerance: CGCNN's files have no header, but hand-made ones often do. The first row
 * is taken as a header, and skipped, only when its target cell is clearly not a number: it
 * contains a letter and is not a spelling of NaN/Infinity (`"nan"` there is a bad target, not
 * a header). Every later non-numeric target is a bad row. Columns after the second are ignored
 * (CGCNN's multi-target rows use the first target).
 * @module
 */

import type { DatasetEntry } from "../../crystal/types.ts";
import { type AtomFeatureTable, loadAtomInit } from "../../crystal/atom_features.ts";
import { parseCsv } from "./csv_parse.ts";
import {
  cifEntry,
  DatasetError,
  errorMessage,
  ListDataset,
  type LoadedDataset,
  type ReaderOptions,
  requirePath,
  SeenIds,
  SkipList,
} from "./common.ts";
import { parseNumber } from "./validate.ts";

/** True when a first-row target cell reads as a column name rather than a value. */
function looksLikeHeader(cell: string): boolean {
  const t = cell.trim();
  if (!/[A-Za-z]/.test(t)) return false;
  if (/^[+-]?(nan|inf|infinity)$/i.test(t)) return false;
  return Number.isNaN(parseNumber(t));
}

/**
 * Reads a CGCNN folder. Bad rows/structures are skipped (or thrown, `strict`), each reason
 * naming `id_prop.csv:<line>` or `<id>.cif:<line>`, the id and what is wrong. A missing
 * folder or `id_prop.csv` throws a {@link DatasetError}.
 *
 * @param dir folder holding `id_prop.csv`.
 * @returns entries in `id_prop.csv` order; `atomFeatures` set when `atom_init.json` exists.
 */
export async function readCgcnnDir(
  dir: string,
  options: ReaderOptions = {},
): Promise<LoadedDataset> {
  await requirePath(dir, "directory", "CGCNN data folder");
  const propPath = `${dir}/id_prop.csv`;
  await requirePath(propPath, "file", "CGCNN id_prop.csv");
  const rows = parseCsv(await Deno.readTextFile(propPath), propPath);
  if (rows.length === 0) throw new DatasetError(`${propPath}: file is empty (no id,target rows)`);

  let atomFeatures: AtomFeatureTable | undefined;
  const initPath = `${dir}/atom_init.json`;
  try {
    if ((await Deno.stat(initPath)).isFile) atomFeatures = await loadAtomInit(initPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new DatasetError(`${initPath}: cannot use atom features: ${errorMessage(e)}`);
    }
  }

  const skips = new SkipList(options);
  const entries: DatasetEntry[] = [];
  const limit = options.limit ?? Infinity;
  const seen = new SeenIds();
  let start = 0;
  if (rows[0].fields.length >= 2 && looksLikeHeader(rows[0].fields[1])) start = 1;

  for (let r = start; r < rows.length && entries.length < limit; r++) {
    const { fields, line } = rows[r];
    const where = `${propPath}:${line}`;
    const id = fields[0].trim();
    if (fields.length < 2 && options.targets !== "optional") {
      skips.skip(
        id || `line ${line}`,
        `${where}: row has ${fields.length} field(s), expected id,target`,
      );
      continue;
    }
    if (id === "") {
      skips.skip(`line ${line}`, `${where}: empty id`);
      continue;
    }
    const dup = seen.duplicate(id, where);
    if (dup !== null) {
      skips.skip(id, dup);
      continue;
    }
    const cell = fields[1] ?? "";
    const target = parseNumber(cell);
    if (!Number.isFinite(target) && !(options.targets === "optional" && cell.trim() === "")) {
      skips.skip(
        id,
        `${where}: structure ${JSON.stringify(id)}: target ${
          JSON.stringify(cell)
        } is not a finite number`,
      );
      continue;
    }
    const cifPath = `${dir}/${id}.cif`;
    let text: string;
    try {
      text = Deno.readTextFileSync(cifPath);
    } catch (e) {
      const what = e instanceof Deno.errors.NotFound
        ? `CIF file ${cifPath} not found`
        : `cannot read ${cifPath}: ${errorMessage(e)}`;
      skips.skip(id, `${where}: structure ${JSON.stringify(id)}: ${what}`);
      continue;
    }
    const entry = cifEntry(text, cifPath, id, target, skips, {
      ...options,
      atomFeatures: atomFeatures ?? options.atomFeatures,
    });
    if (entry === null) continue;
    entries.push(entry);
    seen.keep(id, `line ${line}`);
  }
  return new ListDataset(entries, skips.items, { source: dir, atomFeatures, target: "id_prop" });
}
