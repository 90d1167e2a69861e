/**
 * Reader for a CSV file with a `cif` column (CDVAE's MP-20 / Perov-5 / Carbon-24 layout:
 * `material_id`, `cif`, target columns such as `formation_energy_per_atom`, `heat_ref`,
 * `energy_per_atom`, often a leading unnamed pandas index column).
 *
 * Memory: the file is streamed through an incremental RFC-4180 parser and each CIF is parsed
 * as soon as its row is complete; only the compact parsed structure (typed arrays) is kept,
 * never the CIF text, so a 100 MB CSV costs a few MB of chunks plus the structures.
 * @module
 */

import type { DatasetEntry } from "../../crystal/types.ts";
import { parseCif } from "../../crystal/cif.ts";
import { type CsvRecord, readCsvFile } from "./csv_parse.ts";
import {
  checkEntry,
  cifProblem,
  DatasetError,
  ListDataset,
  type LoadedDataset,
  type ReaderOptions,
  requirePath,
  SeenIds,
  SkipList,
} from "./common.ts";
import { parseNumber } from "./validate.ts";

/** The target read when none is given, if the file has it. */
export const DEFAULT_CSV_TARGET = "formation_energy_per_atom";
/** The id column used when none is given, if the file has it (else the row number). */
export const DEFAULT_ID_COLUMN = "material_id";
/** Name of the column holding the CIF text. */
export const CIF_COLUMN = "cif";

/**
 * Reads a CSV-with-CIF file. Options: `target` (default `formation_energy_per_atom` when the
 * file has it, else an error listing the numeric columns of the first data row), `idColumn`
 * (default `material_id` when present, else the 1-based data row number), `limit`, `strict`,
 * `occupancy`. Bad rows are skipped with a reason naming `<file>:<line>`, the id and what is
 * wrong; a missing file, a missing `cif`/target/id column or a CSV syntax error (e.g. an
 * unterminated quote) throws.
 */
export async function readCsvCif(
  path: string,
  options: ReaderOptions = {},
): Promise<LoadedDataset> {
  const info = await requirePath(path, "file", "CSV file");
  if (info.size === 0) throw new DatasetError(`${path}: file is empty (expected a header row)`);

  const skips = new SkipList(options);
  const entries: DatasetEntry[] = [];
  const limit = options.limit ?? Infinity;
  let header: string[] | null = null;
  let cifCol = -1, targetCol = -1, idCol = -1;
  let targetName = options.target ?? "";
  let row = 0;
  const seen = new SeenIds();

  const resolveColumns = (first: CsvRecord) => {
    const h = header!;
    const numeric = h.filter((name, k) =>
      name !== "" && k < first.fields.length && Number.isFinite(parseNumber(first.fields[k]))
    );
    if (options.target === undefined) {
      if (!h.includes(DEFAULT_CSV_TARGET) && options.targets === "optional") {
        targetName = ""; // no target column: every target is NaN
        return;
      }
      if (!h.includes(DEFAULT_CSV_TARGET)) {
        throw new DatasetError(
          `${path}: no target given and no ${DEFAULT_CSV_TARGET} column; choose one with ` +
            `target: numeric columns are ${numeric.length ? numeric.join(", ") : "(none)"}`,
        );
      }
      targetName = DEFAULT_CSV_TARGET;
    }
    targetCol = h.indexOf(targetName);
    if (targetCol < 0) {
      throw new DatasetError(
        `${path}: target column ${JSON.stringify(targetName)} not found; columns are ` +
          `${h.map((c) => JSON.stringify(c)).join(", ")}; numeric: ${
            numeric.join(", ") || "(none)"
          }`,
      );
    }
  };

  for await (const rec of readCsvFile(path)) {
    if (header === null) {
      header = rec.fields.map((f) => f.trim());
      cifCol = header.indexOf(CIF_COLUMN);
      if (cifCol < 0) {
        throw new DatasetError(
          `${path}:${rec.line}: no ${CIF_COLUMN} column in the header (columns: ${
            header.join(", ")
          })`,
        );
      }
      const idName = options.idColumn ?? DEFAULT_ID_COLUMN;
      idCol = header.indexOf(idName);
      if (idCol < 0 && options.idColumn !== undefined) {
        throw new DatasetError(
          `${path}: id column ${JSON.stringify(idName)} not found (columns: ${header.join(", ")})`,
        );
      }
      continue;
    }
    if (row === 0) resolveColumns(rec);
    row++;
    const where = `${path}:${rec.line}`;
    const f = rec.fields;
    const id = idCol >= 0 && idCol < f.length && f[idCol].trim() !== ""
      ? f[idCol].trim()
      : String(row);
    if (f.length !== header.length) {
      skips.skip(
        id,
        `${where}: row ${row} (id ${
          JSON.stringify(id)
        }) has ${f.length} fields, the header has ${header.length}`,
      );
      continue;
    }
    const dup = seen.duplicate(id, where);
    if (dup !== null) {
      skips.skip(id, dup);
      continue;
    }
    const cell = targetCol >= 0 ? f[targetCol] : "";
    const target = parseNumber(cell);
    if (!Number.isFinite(target) && !(options.targets === "optional" && cell.trim() === "")) {
      skips.skip(
        id,
        `${where}: structure ${JSON.stringify(id)}: target ${targetName} ${
          JSON.stringify(cell)
        } is not a finite number`,
      );
      continue;
    }
    let structure;
    try {
      structure = parseCif(f[cifCol], { id, occupancy: options.occupancy });
    } catch (e) {
      // CIF line numbers are relative to the cell: shift by the lines before it.
      let first = rec.line;
      for (let k = 0; k < cifCol; k++) first += countNewlines(f[k]);
      skips.skip(id, cifProblem(e, path, first, id));
      continue;
    }
    structure.id = id;
    const bad = checkEntry(structure, target, targetName, where, options);
    if (bad !== null) {
      skips.skip(id, bad);
      continue;
    }
    entries.push({ id, structure, target });
    seen.keep(id, `line ${rec.line}`);
    if (entries.length >= limit) break;
  }
  if (header === null) throw new DatasetError(`${path}: file is empty (expected a header row)`);
  if (row === 0) throw new DatasetError(`${path}: header only, no data rows`);
  return new ListDataset(entries, skips.items, { source: path, target: targetName });
}

function countNewlines(s: string): number {
  let n = 0;
  for (let k = s.indexOf("\n"); k >= 0; k = s.indexOf("\n", k + 1)) n++;
  return n;
}
