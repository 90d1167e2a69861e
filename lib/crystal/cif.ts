/**
 * A CIF (1.1 syntax) reader for crystal structures: cell, atom sites, symmetry expansion and
 * merging of duplicates. Errors are {@linkcode CifError}s naming the file/id, the line and what is
 * wrong.
 * @module
 */

import { latticeFromParameters, validateLattice } from "./lattice.ts";
import { atomicNumber } from "./symbols.ts";
import type { Structure } from "./types.ts";
import {
  settingFromHall,
  settingFromHM,
  settingFromNumber,
  SpaceGroupError,
  type SpaceGroupSetting,
} from "./space_groups.ts";

/**
 * A CIF that cannot be turned into a structure. `message` = "<id> line <n>: <reason>".
 *
 * @example
 * ```ts
 * import { CifError, parseCif } from "@facgcnn/toolkit";
 * try {
 *   parseCif("data_x\n", { id: "x.cif" });
 * } catch (e) {
 *   if (e instanceof CifError) console.log(e.message); // "x.cif line 1: no atoms …"
 * }
 * ```
 */
export class CifError extends Error {
  /** File name or structure id given to the parser. */
  readonly id: string;
  /** 1-based line of the offending token, when there is one. */
  readonly line: number | undefined;
  /** What is wrong, without the location. */
  readonly reason: string;
  /** An error at `line` (undefined when not tied to a line) of the CIF named `id`. */
  constructor(id: string, line: number | undefined, reason: string) {
    super(line === undefined ? `${id}: ${reason}` : `${id} line ${line}: ${reason}`);
    this.name = "CifError";
    this.id = id;
    this.line = line;
    this.reason = reason;
  }
}

/**
 * Options of {@linkcode parseCif}.
 */
export interface CifOptions {
  /** Name used in errors and as `Structure.id` (default: the data block name). */
  id?: string;
  /**
   * Sites with occupancy < 1: `"error"` (default) rejects the file; `"majority"` keeps, at
   * each position, the species with the largest occupancy (the vacancy, 1 − Σ occupancy,
   * competes too: if it wins the site is dropped; ties go to the site listed first).
   */
  occupancy?: "error" | "majority";
  /** Distinct atoms closer than this (Å) after expansion are an error (default 0.5). */
  minDistance?: number;
  /** Symmetry images closer than this fractional distance are merged (default 1e-3). */
  mergeTolerance?: number;
  /**
   * Which data block to read when several have atom sites: its name (without `data_`) or its
   * 0-based index among those blocks. Default: the only one; several are an error naming them.
   */
  block?: string | number;
}

// ---------------------------------------------------------------- tokens

const VALUE = 0, QUOTED = 1, TAG = 2, LOOP = 3, DATA = 4, OTHER = 5;

interface Tokens {
  text: string[];
  line: number[];
  kind: number[];
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10;
}

function tokenize(src: string, id: string): Tokens {
  const t: Tokens = { text: [], line: [], kind: [] };
  const push = (text: string, line: number, kind: number) => {
    t.text.push(text), t.line.push(line), t.kind.push(kind);
  };
  const n = src.length;
  let i = 0, line = 1, lineStart = true;
  while (i < n) {
    const c = src.charCodeAt(i);
    if (c === 10) {
      line++, i++, lineStart = true;
      continue;
    }
    if (c === 32 || c === 9) {
      i++, lineStart = false;
      continue;
    }
    if (c === 59 && lineStart) { // ';' in column 1: text field up to the next line starting ';'
      const end = src.indexOf("\n;", i);
      if (end < 0) throw new CifError(id, line, "unterminated ';' text field (file truncated?)");
      const body = src.slice(i + 1, end);
      push(body.startsWith("\n") ? body.slice(1) : body, line, QUOTED);
      for (let k = i; k <= end; k++) if (src.charCodeAt(k) === 10) line++;
      i = end + 2, lineStart = false;
      continue;
    }
    lineStart = false;
    if (c === 35) { // '#' comment
      const nl = src.indexOf("\n", i);
      i = nl < 0 ? n : nl;
      continue;
    }
    if (c === 39 || c === 34) { // quoted: ends at the same quote followed by white space
      let j = i + 1;
      for (;;) {
        while (j < n && src.charCodeAt(j) !== c && src.charCodeAt(j) !== 10) j++;
        if (j >= n || src.charCodeAt(j) === 10) {
          throw new CifError(id, line, `unterminated quoted string ${src.slice(i, j)}`);
        }
        if (j + 1 >= n || isSpace(src.charCodeAt(j + 1))) break;
        j++;
      }
      push(src.slice(i + 1, j), line, QUOTED);
      i = j + 1;
      continue;
    }
    let j = i + 1;
    while (j < n && !isSpace(src.charCodeAt(j))) j++;
    const w = src.slice(i, j);
    if (c === 95) push(w.toLowerCase(), line, TAG);
    else if (w.length >= 5 && w[4] === "_") {
      const head = w.slice(0, 5).toLowerCase();
      if (head === "data_") push(w.slice(5), line, DATA);
      else if (head === "loop_" && w.length === 5) push(w, line, LOOP);
      else if (head === "save_" || head === "stop_") push(w, line, OTHER);
      else push(w, line, VALUE);
    } else if (w.toLowerCase() === "global_") push(w, line, OTHER);
    else push(w, line, VALUE);
    i = j;
  }
  return t;
}

// ---------------------------------------------------------------- blocks

interface Loop {
  line: number;
  tags: string[];
  /** Token index of the first value; row r, column c is token start + r · tags.length + c. */
  start: number;
  rows: number;
}

interface Block {
  name: string;
  line: number;
  /** Single items: tag → token index of the value. */
  items: Map<string, number>;
  loops: Map<string, Loop>;
}

function blocks(t: Tokens, id: string): Block[] {
  const out: Block[] = [];
  const n = t.text.length;
  let b: Block | undefined;
  const isValue = (k: number) => k < n && (t.kind[k] === VALUE || t.kind[k] === QUOTED);
  let k = 0;
  while (k < n) {
    const kind = t.kind[k];
    if (kind === DATA) {
      b = { name: t.text[k], line: t.line[k], items: new Map(), loops: new Map() };
      out.push(b);
      k++;
    } else if (kind === OTHER) {
      k++;
    } else if (!b) {
      throw new CifError(id, t.line[k], `"${t.text[k]}" before the first data_ block`);
    } else if (kind === TAG) {
      if (!isValue(k + 1)) {
        throw new CifError(id, t.line[k], `tag ${t.text[k]} has no value (file truncated?)`);
      }
      b.items.set(t.text[k], k + 1);
      k += 2;
    } else if (kind === LOOP) {
      const line = t.line[k];
      const tags: string[] = [];
      k++;
      while (k < n && t.kind[k] === TAG) tags.push(t.text[k++]);
      const start = k;
      while (isValue(k)) k++;
      const count = k - start;
      if (tags.length === 0) throw new CifError(id, line, "loop_ without tags");
      if (count % tags.length !== 0) {
        throw new CifError(
          id,
          line,
          `loop of ${tags.length} tags (${
            tags[0]
          } …) has ${count} values, not a multiple of ${tags.length} (file truncated?)`,
        );
      }
      const loop: Loop = { line, tags, start, rows: count / tags.length };
      for (const tag of tags) b.loops.set(tag, loop);
    } else {
      throw new CifError(id, t.line[k], `value "${t.text[k]}" without a tag`);
    }
  }
  return out;
}

/** A column of a loop, or a single item seen as a one-row column; undefined if absent. */
function column(b: Block, tag: string): { rows: number; at: (r: number) => number } | undefined {
  const loop = b.loops.get(tag);
  if (loop) {
    const c = loop.tags.indexOf(tag), w = loop.tags.length;
    return { rows: loop.rows, at: (r) => loop.start + r * w + c };
  }
  const k = b.items.get(tag);
  return k === undefined ? undefined : { rows: 1, at: () => k };
}

// ---------------------------------------------------------------- values

const NUMBER = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\(\d+\))?$/;

function isUnknown(t: Tokens, k: number): boolean {
  return t.kind[k] === VALUE && (t.text[k] === "?" || t.text[k] === ".");
}

/** The number of token k, "5.431(2)" → 5.431; errors name `what`. */
function numberAt(t: Tokens, k: number, id: string, what: string): number {
  if (isUnknown(t, k)) throw new CifError(id, t.line[k], `${what} is unknown ("${t.text[k]}")`);
  const m = NUMBER.exec(t.text[k]);
  if (!m) throw new CifError(id, t.line[k], `${what} "${t.text[k]}" is not a number`);
  return Number(m[1]);
}

/** Atomic number from a type symbol or label: "Fe1" → Fe, "O2-" → O, "ba" → Ba, "OW1" → O. */
function elementOf(raw: string): number {
  const m = /^[A-Za-z]{1,2}/.exec(raw);
  if (!m) return -1;
  const s = m[0];
  if (s.length === 2) {
    const z = atomicNumber(s);
    if (z > 0) return z;
  }
  const one = s[0].toUpperCase();
  return one === "D" || one === "T" ? 1 : atomicNumber(one); // deuterium, tritium
}

// ---------------------------------------------------------------- symmetry

/**
 * A symmetry operation "x, y, z" style: 12 numbers, row r = (R[r][0..2], t[r]) so that
 * f'_r = R[r]·f + t[r]. Accepts "-x+1/2", "x-y", "1/2+x", "z+0.25", "2x", "+y".
 */
function parseOperation(expr: string): Float64Array | undefined {
  const parts = expr.replace(/\s+/g, "").toLowerCase().split(",");
  if (parts.length !== 3) return undefined;
  const op = new Float64Array(12);
  for (let r = 0; r < 3; r++) {
    const s = parts[r];
    if (s.length === 0) return undefined;
    let i = 0;
    while (i < s.length) {
      let sign = 1;
      if (s[i] === "+" || s[i] === "-") sign = s[i++] === "-" ? -1 : 1;
      const m = /^(\d+\.?\d*|\.\d+)(?:\/(\d+\.?\d*))?/.exec(s.slice(i));
      let coef = NaN;
      if (m) {
        coef = Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2]));
        i += m[0].length;
        if (s[i] === "*") i++;
      }
      const v = "xyz".indexOf(s[i]);
      if (v >= 0 && i < s.length) {
        i++;
        let div = 1;
        const d = /^\/(\d+\.?\d*)/.exec(s.slice(i)); // "x/2"
        if (d) div = Number(d[1]), i += d[0].length;
        op[4 * r + v] += (sign * (Number.isNaN(coef) ? 1 : coef)) / div;
      } else if (!Number.isNaN(coef)) {
        op[4 * r + 3] += sign * coef;
      } else {
        return undefined;
      }
      if (i < s.length && s[i] !== "+" && s[i] !== "-") return undefined;
    }
  }
  return op;
}

const OPERATION_TAGS = ["_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz"];
const HALL_TAGS = ["_space_group_name_hall", "_symmetry_space_group_name_hall"];
const HM_TAGS = ["_space_group_name_h-m_alt", "_symmetry_space_group_name_h-m"];
const NUMBER_TAGS = ["_space_group_it_number", "_symmetry_int_tables_number"];
// Parsed operations by their text: data sets repeat the same few hundred space groups.
const OPERATION_CACHE = new Map<string, Float64Array | string>();
const IDENTITY = Float64Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);

/**
 * Why a parsed operation is not a crystallographic one, or null: the rotation part must be an
 * integer matrix of determinant ±1 (so "2x,y,z" or "x,x,z" are refused here rather than
 * producing atoms that are later blamed on an overlap).
 */
function operationProblem(op: Float64Array, text: string): string | null {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      const v = op[4 * r + c];
      if (!Number.isInteger(v)) {
        return `symmetry operation "${text}" is not a symmetry: the coefficient of ` +
          `${"xyz"[c]} in its ${["first", "second", "third"][r]} part is ${v}, not an integer`;
      }
    }
  }
  const m = (r: number, c: number) => op[4 * r + c];
  const det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) -
    m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) +
    m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
  if (Math.abs(det) !== 1) {
    return `symmetry operation "${text}" is not a symmetry: its matrix has determinant ${det} ` +
      `(a crystallographic operation has ±1)`;
  }
  return null;
}

/** Operators from the operator loop, else from the space-group symbols, else the identity. */
interface Symmetry {
  ops: Float64Array[];
  /** Where the operators came from, for error messages; undefined for a loop or none. */
  from?: SpaceGroupSetting & { tag: string; symbol: string };
}

function operations(b: Block, t: Tokens, id: string, rhombohedral: boolean): Symmetry {
  for (const tag of OPERATION_TAGS) {
    const col = column(b, tag);
    if (!col) continue;
    const ops: Float64Array[] = [];
    for (let r = 0; r < col.rows; r++) {
      const k = col.at(r);
      let op = OPERATION_CACHE.get(t.text[k]);
      if (op === undefined) {
        const parsed = parseOperation(t.text[k]);
        op = parsed === undefined
          ? `cannot parse symmetry operation "${t.text[k]}"`
          : operationProblem(parsed, t.text[k]) ?? parsed;
        if (OPERATION_CACHE.size >= 20000) OPERATION_CACHE.clear();
        OPERATION_CACHE.set(t.text[k], op);
      }
      if (typeof op === "string") {
        throw new CifError(id, t.line[k], op);
      }
      ops.push(op);
    }
    if (ops.length > 0) return { ops };
  }
  return symbolOperations(b, t, id, rhombohedral);
}

/** The first present, known value of `tags` in block `b`, with its tag and token index. */
function item(b: Block, t: Tokens, tags: string[]): { tag: string; k: number } | undefined {
  for (const tag of tags) {
    const k = b.items.get(tag);
    if (k !== undefined && !isUnknown(t, k) && t.text[k].trim() !== "") return { tag, k };
  }
  return undefined;
}

/**
 * Operators from `_space_group_name_Hall`, else the H-M symbol, else the IT number (each
 * mapped to its standard setting); a number that disagrees with the symbol is an error.
 */
function symbolOperations(b: Block, t: Tokens, id: string, rhombohedral: boolean): Symmetry {
  const hall = item(b, t, HALL_TAGS), hm = item(b, t, HM_TAGS), num = item(b, t, NUMBER_TAGS);
  if (!hall && !hm && !num) return { ops: [IDENTITY] };
  let setting: SpaceGroupSetting | undefined;
  let used: { tag: string; k: number };
  try {
    if (hall) {
      used = hall;
      setting = settingFromHall(t.text[hall.k]);
    } else if (hm) {
      used = hm;
      setting = settingFromHM(t.text[hm.k], { rhombohedral });
    } else {
      used = num!;
      const n = Number(t.text[num!.k]);
      setting = settingFromNumber(n, { rhombohedral });
    }
  } catch (e) {
    if (!(e instanceof SpaceGroupError)) throw e;
    throw new CifError(id, t.line[(hall ?? hm ?? num)!.k], `${e.message} (${(hall ?? hm)!.tag})`);
  }
  if (setting === undefined) {
    throw new CifError(
      id,
      t.line[used.k],
      `unknown space group ${used.tag} "${t.text[used.k]}" and no symmetry operator loop ` +
        `(${OPERATION_TAGS[0]}): cannot expand the asymmetric unit; give a standard ` +
        `Hermann-Mauguin or Hall symbol, an IT number 1-230, or the operator loop`,
    );
  }
  if (num && used !== num && setting.number !== 0) {
    const n = Number(t.text[num.k]);
    if (n !== setting.number) {
      throw new CifError(
        id,
        t.line[num.k],
        `${num.tag} ${t.text[num.k]} disagrees with ${used.tag} "${t.text[used.k]}" ` +
          `(space group ${setting.number}) and there is no operator loop to settle it`,
      );
    }
  }
  return {
    ops: setting.operations,
    from: { ...setting, tag: used.tag, symbol: t.text[used.k] },
  };
}

// ---------------------------------------------------------------- structure

interface Site {
  label: string;
  z: number;
  f: [number, number, number];
  occ: number;
  line: number;
}

function wrap(x: number): number {
  const w = x - Math.floor(x);
  return w >= 1 ? 0 : w; // −1e-17 − floor → 1.0 in floating point
}

function fracDistance(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  let s = 0;
  for (let c = 0; c < 3; c++) {
    let d = a[i + c] - b[j + c];
    d -= Math.round(d);
    s += d * d;
  }
  return Math.sqrt(s);
}

function readSites(b: Block, t: Tokens, id: string): Site[] {
  const cx = column(b, "_atom_site_fract_x")!;
  const cy = column(b, "_atom_site_fract_y"), cz = column(b, "_atom_site_fract_z");
  if (!cy || !cz) {
    throw new CifError(id, b.line, "_atom_site_fract_y/_z missing next to _atom_site_fract_x");
  }
  const type = column(b, "_atom_site_type_symbol"), label = column(b, "_atom_site_label");
  const occ = column(b, "_atom_site_occupancy");
  if (!type && !label) {
    throw new CifError(
      id,
      t.line[cx.at(0)],
      "atom sites have neither _atom_site_type_symbol nor _atom_site_label",
    );
  }
  if (cx.rows === 0) throw new CifError(id, b.line, "no atoms");
  for (
    const [name, col] of [
      ["fract_y", cy],
      ["fract_z", cz],
      ["type_symbol", type],
      ["label", label],
      ["occupancy", occ],
    ] as const
  ) {
    if (col && col.rows !== cx.rows) {
      throw new CifError(
        id,
        t.line[cx.at(0)],
        `_atom_site_${name} has ${col.rows} rows, _atom_site_fract_x ${cx.rows}`,
      );
    }
  }
  const sites: Site[] = [];
  for (let r = 0; r < cx.rows; r++) {
    // The type symbol wins; the label is the fallback when it is absent or "?"/".".
    const k = type && !isUnknown(t, type.at(r)) ? type.at(r) : label ? label.at(r) : type!.at(r);
    const name = label ? t.text[label.at(r)] : t.text[k];
    const z = elementOf(t.text[k]);
    if (z < 0) throw new CifError(id, t.line[k], `unknown element symbol "${t.text[k]}"`);
    const f: [number, number, number] = [0, 0, 0];
    const cols = [cx, cy, cz];
    for (let c = 0; c < 3; c++) {
      const kc = cols[c].at(r);
      f[c] = numberAt(t, kc, id, `site "${name}" fract_${"xyz"[c]}`);
      if (!Number.isFinite(f[c])) {
        throw new CifError(id, t.line[kc], `site "${name}" fract_${"xyz"[c]} is not finite`);
      }
    }
    const o = occ && !isUnknown(t, occ.at(r))
      ? numberAt(t, occ.at(r), id, `site "${name}" occupancy`)
      : 1;
    if (!(o > 0) || o > 1 + 1e-3) {
      throw new CifError(
        id,
        t.line[occ!.at(r)],
        `site "${name}" has occupancy ${o} outside (0, 1]`,
      );
    }
    sites.push({ label: name, z, f, occ: o, line: t.line[cx.at(r)] });
  }
  return sites;
}

/** Majority species at each position (see {@linkcode CifOptions.occupancy}). */
function majority(sites: Site[], tol: number): Site[] {
  const used = new Array(sites.length).fill(false);
  const out: Site[] = [];
  for (let i = 0; i < sites.length; i++) {
    if (used[i]) continue;
    let best = sites[i], total = 0;
    for (let j = i; j < sites.length; j++) {
      if (used[j] || fracDistance(sites[i].f, 0, sites[j].f, 0) >= tol) continue;
      used[j] = true;
      total += sites[j].occ;
      if (sites[j].occ > best.occ) best = sites[j];
    }
    if (best.occ >= 1 - total) out.push({ ...best, occ: 1 });
  }
  return out;
}

/**
 * Parses the data block that has atom sites (several: the one `block` names) into a
 * {@linkcode Structure}: cell from `_cell_length_*`/`_cell_angle_*` (pymatgen convention),
 * sites from `_atom_site_fract_*` with the element from `_atom_site_type_symbol` or else
 * `_atom_site_label` (charges and numbering stripped), expanded by the operator loop
 * (`_symmetry_equiv_pos_as_xyz` or `_space_group_symop_operation_xyz`), or, without one, by
 * the operators generated from `_space_group_name_Hall`, the H-M symbol or the IT number
 * (standard setting; see space_groups.ts). Coordinates are wrapped into [0, 1); symmetry
 * images of one species within `mergeTolerance` (periodic fractional distance) are merged.
 * Accepts quoted values, ';' text fields, esd suffixes "5.431(2)", comments and several
 * blocks. Throws {@linkcode CifError} for: empty file, missing/invalid cell (zero, negative or
 * flat volume), truncated loops/strings, non-numeric or unknown coordinates, unknown element
 * symbols, malformed or non-crystallographic operators, unknown or contradictory space-group
 * symbols, an origin choice the symbol leaves open when the coordinates fit the other one,
 * several blocks with atoms and no `block`,
 * partial occupancy (unless `occupancy: "majority"`), atoms closer than `minDistance`, and
 * no atoms.
 *
 * @example
 * ```ts
 * import { formula, parseCif } from "@facgcnn/toolkit";
 * const s = parseCif(await Deno.readTextFile("NaCl.cif"));
 * console.log(formula(s), s.numbers.length);
 * ```
 */
export function parseCif(text: string, options: CifOptions = {}): Structure {
  let id = options.id ?? "cif";
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
  const t = tokenize(text, id);
  if (t.text.length === 0) throw new CifError(id, undefined, "empty file (no CIF content)");
  const all = blocks(t, id);
  if (all.length === 0) throw new CifError(id, undefined, "no data_ block");
  const b = chooseBlock(all, options.block, id);
  if (options.id === undefined && b.name) id = b.name;

  const cell: number[] = [];
  let cellLine = b.line;
  for (
    const tag of ["length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"]
  ) {
    const k = b.items.get(`_cell_${tag}`);
    if (k === undefined) throw new CifError(id, b.line, `missing _cell_${tag} (no unit cell)`);
    cell.push(numberAt(t, k, id, `_cell_${tag}`));
    if (tag === "length_a") cellLine = t.line[k];
  }
  for (let c = 0; c < 3; c++) {
    if (!(cell[c] > 0)) throw new CifError(id, cellLine, `cell length ${cell[c]} is not positive`);
  }
  const flat = flatCell(cell[3], cell[4], cell[5]);
  if (flat !== null) {
    throw new CifError(id, cellLine, `cell (${cell.join(", ")}): ${flat}`);
  }
  const lattice = latticeFromParameters(cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]);
  try {
    validateLattice(lattice, id);
  } catch (e) {
    throw new CifError(
      id,
      cellLine,
      `cell (${cell.join(", ")}): ${(e as Error).message.slice(id.length + 2)}`,
    );
  }

  const tol = options.mergeTolerance ?? 1e-3;
  let sites = readSites(b, t, id);
  const partial = sites.find((s) => s.occ < 1 - 1e-3);
  if (partial && options.occupancy !== "majority") {
    throw new CifError(
      id,
      partial.line,
      `site "${partial.label}" has partial occupancy ${partial.occ} (disordered structure; --occupancy majority on the command line, or the option occupancy: "majority", keeps the majority species)`,
    );
  }
  if (partial) sites = majority(sites, tol);
  if (sites.length === 0) {
    throw new CifError(id, b.line, "no atoms left after occupancy resolution");
  }

  const [a0, b0, c0, al, be, ga] = cell;
  const near = (x: number, y: number) => Math.abs(x - y) <= 1e-3 * Math.max(x, y);
  const rhombohedral = near(a0, b0) && near(b0, c0) && Math.abs(al - be) < 0.01 &&
    Math.abs(be - ga) < 0.01 && Math.abs(al - 90) > 0.01;
  const { ops, from } = operations(b, t, id, rhombohedral);
  const minDistance = options.minDistance ?? 0.5;
  const { frac, numbers, origin } = expand(sites, ops, tol);
  checkOverlap(lattice, frac, minDistance, (a, b2, d, min) => {
    const sa = sites[origin[a]], sb = sites[origin[b2]];
    const hint = from === undefined ? "" : `; the operators were generated from ${from.tag} ` +
      `"${from.symbol}" (${from.hm}${from.assumed ? `, assuming ${from.assumed}` : ""}): if ` +
      `the file uses another setting, add its operator loop`;
    return new CifError(
      id,
      sb.line,
      `atoms of sites "${sa.label}" and "${sb.label}" overlap: ${
        d.toFixed(3)
      } Å apart (< ${min} Å)${hint}`,
    );
  });
  if (from?.alternative) {
    // The symbol leaves the origin open. Atoms sit on special positions of the right origin,
    // so the wrong one spreads them over more sites: fewer atoms (and no overlap) with origin
    // choice 1 means the coordinates were written for it, and guessing would be silent.
    const alt = expand(sites, from.alternative.operations, tol);
    let altFits = alt.numbers.length < numbers.length;
    if (altFits) {
      try {
        checkOverlap(lattice, alt.frac, minDistance, () => new Error());
      } catch {
        altFits = false;
      }
    }
    if (altFits) {
      throw new CifError(
        id,
        t.line[b.items.get(from.tag) ?? 0] ?? b.line,
        `${from.tag} "${from.symbol}" does not say which origin choice the coordinates use, ` +
          `and they look like origin choice 1 (${alt.numbers.length} atoms with "` +
          `${from.alternative.hm}", ${numbers.length} with "${from.hm}"): write the symbol ` +
          `with ":1" or ":2", or add the operator loop`,
      );
    }
  }
  return {
    id,
    lattice,
    frac: Float64Array.from(frac),
    numbers: Int32Array.from(numbers),
  };
}

/** Applies every operator to every site, merging images of one species within `tol`. */
function expand(
  sites: Site[],
  ops: Float64Array[],
  tol: number,
): { frac: number[]; numbers: number[]; origin: number[] } {
  const frac: number[] = [];
  const numbers: number[] = [];
  const origin: number[] = [];
  const g = [0, 0, 0];
  sites.forEach((s, si) => {
    for (const op of ops) {
      for (let r = 0; r < 3; r++) {
        g[r] = wrap(
          op[4 * r] * s.f[0] + op[4 * r + 1] * s.f[1] + op[4 * r + 2] * s.f[2] + op[4 * r + 3],
        );
      }
      let dup = false;
      for (let a = 0; a < numbers.length && !dup; a++) {
        dup = numbers[a] === s.z && fracDistance(frac, 3 * a, g, 0) < tol;
      }
      if (!dup) frac.push(g[0], g[1], g[2]), numbers.push(s.z), origin.push(si);
    }
  });
  return { frac, numbers, origin };
}

/**
 * The block to read: the one with atom sites, or the one `choice` names when several have
 * them (several without a choice is an error naming them: reading only the first would drop
 * the others silently).
 */
function chooseBlock(all: Block[], choice: string | number | undefined, id: string): Block {
  const withAtoms = all.filter((x) => column(x, "_atom_site_fract_x") !== undefined);
  if (withAtoms.length === 0) {
    throw new CifError(id, all[0].line, "no atoms (no _atom_site_fract_x in any data block)");
  }
  const names = withAtoms.map((x) => `data_${x.name}`).join(", ");
  if (choice === undefined) {
    if (withAtoms.length === 1) return withAtoms[0];
    throw new CifError(
      id,
      withAtoms[1].line,
      `${withAtoms.length} data blocks have atom sites (${names}); pick one with the ` +
        `block option (a name or a 0-based index), or split the file`,
    );
  }
  const chosen = typeof choice === "number"
    ? withAtoms[choice]
    : withAtoms.find((x) => x.name === choice.replace(/^data_/, ""));
  if (chosen === undefined) {
    throw new CifError(
      id,
      undefined,
      `no data block ${JSON.stringify(choice)} with atom sites (blocks with atoms: ${names})`,
    );
  }
  return chosen;
}

/**
 * Why cell angles (degrees) give no cell, or null. The volume factor
 * 1 − cos²α − cos²β − cos²γ + 2 cos α cos β cos γ must be clearly positive: angles such as
 * 120/120/120 (α + β + γ = 360°) or 90/90/180 make a flat cell whose tiny floating-point
 * volume would otherwise surface later as "atoms overlap".
 */
function flatCell(alpha: number, beta: number, gamma: number): string | null {
  for (const [name, v] of [["alpha", alpha], ["beta", beta], ["gamma", gamma]] as const) {
    if (!(v > 0 && v < 180)) {
      return `angle ${name} ${v}° is not between 0° and 180° (the cell volume would be zero)`;
    }
  }
  const r = Math.PI / 180;
  const ca = Math.cos(alpha * r), cb = Math.cos(beta * r), cg = Math.cos(gamma * r);
  const f = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg;
  if (f > 1e-6) return null;
  const sum = alpha + beta + gamma;
  const why = sum >= 360 - 1e-6
    ? `α + β + γ = ${+sum.toFixed(4)}° (must be below 360°)`
    : `one angle is not below the sum of the other two`;
  return `the angles do not form a cell (${why}): the cell is flat, its volume is zero ` +
    `(${f <= 0 ? 0 : Math.sqrt(f).toExponential(2)} × a·b·c)`;
}

/** Throws the error made by `fail` for the first pair closer than `min` Å (minimum image ±1). */
function checkOverlap(
  l: Float64Array,
  frac: number[],
  min: number,
  fail: (a: number, b: number, d: number, min: number) => Error,
): void {
  const n = frac.length / 3, min2 = min * min;
  for (let b = 1; b < n; b++) {
    for (let a = 0; a < b; a++) {
      const d0 = frac[3 * b] - frac[3 * a], d1 = frac[3 * b + 1] - frac[3 * a + 1];
      const d2 = frac[3 * b + 2] - frac[3 * a + 2];
      const u0 = d0 - Math.round(d0), u1 = d1 - Math.round(d1), u2 = d2 - Math.round(d2);
      for (let i = -1; i <= 1; i++) {
        for (let j = -1; j <= 1; j++) {
          for (let k = -1; k <= 1; k++) {
            const p = u0 + i, q = u1 + j, r = u2 + k;
            const x = p * l[0] + q * l[3] + r * l[6];
            const y = p * l[1] + q * l[4] + r * l[7];
            const z = p * l[2] + q * l[5] + r * l[8];
            const s = x * x + y * y + z * z;
            if (s < min2) throw fail(a, b, Math.sqrt(s), min);
          }
        }
      }
    }
  }
}
