/**
 * A CIF (1.1 syntax) reader for crystal structures: cell, atom sites, symmetry expansion and
 * merging of duplicates. Errors are {@linkcode CifError}s naming the file/id, the line and what is
 * wrong.
 * @module
 */

import { latticeFromParameters, validateLattice } from "./lattice.ts";
import { atomicNumber } from "./symbols.ts";
import type { Structure } from "./types.ts";

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
// Parsed operations by their text: data sets repeat the same few hundred space groups.
const OPERATION_CACHE = new Map<string, Float64Array>();
const IDENTITY = Float64Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);

function operations(b: Block, t: Tokens, id: string): Float64Array[] {
  for (const tag of OPERATION_TAGS) {
    const col = column(b, tag);
    if (!col) continue;
    const ops: Float64Array[] = [];
    for (let r = 0; r < col.rows; r++) {
      const k = col.at(r);
      let op = OPERATION_CACHE.get(t.text[k]);
      if (!op) {
        op = parseOperation(t.text[k]);
        if (op) {
          if (OPERATION_CACHE.size >= 20000) OPERATION_CACHE.clear();
          OPERATION_CACHE.set(t.text[k], op);
        }
      }
      if (!op) throw new CifError(id, t.line[k], `cannot parse symmetry operation "${t.text[k]}"`);
      ops.push(op);
    }
    if (ops.length > 0) return ops;
  }
  return [IDENTITY];
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
 * Parses the first data block that has atom sites into a {@linkcode Structure}: cell from
 * `_cell_length_*`/`_cell_angle_*` (pymatgen convention), sites from `_atom_site_fract_*`
 * with the element from `_atom_site_type_symbol` or else `_atom_site_label` (charges and
 * numbering stripped), expanded by `_symmetry_equiv_pos_as_xyz` or
 * `_space_group_symop_operation_xyz`. Coordinates are wrapped into [0, 1); symmetry images of
 * one species within `mergeTolerance` (periodic fractional distance) are merged. Accepts
 * quoted values, ';' text fields, esd suffixes "5.431(2)", comments and several blocks.
 * Throws {@linkcode CifError} for: empty file, missing/invalid cell (zero or negative volume),
 * truncated loops/strings, non-numeric or unknown coordinates, unknown element symbols,
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
  const b = all.find((x) => column(x, "_atom_site_fract_x") !== undefined);
  if (!b) {
    throw new CifError(id, all[0].line, "no atoms (no _atom_site_fract_x in any data block)");
  }
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
      `site "${partial.label}" has partial occupancy ${partial.occ} (disordered structure; option occupancy: "majority" keeps the majority species)`,
    );
  }
  if (partial) sites = majority(sites, tol);
  if (sites.length === 0) {
    throw new CifError(id, b.line, "no atoms left after occupancy resolution");
  }

  const ops = operations(b, t, id);
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
  checkOverlap(lattice, frac, options.minDistance ?? 0.5, (a, b2, d, min) => {
    const sa = sites[origin[a]], sb = sites[origin[b2]];
    return new CifError(
      id,
      sb.line,
      `atoms of sites "${sa.label}" and "${sb.label}" overlap: ${
        d.toFixed(3)
      } Å apart (< ${min} Å)`,
    );
  });
  return {
    id,
    lattice,
    frac: Float64Array.from(frac),
    numbers: Int32Array.from(numbers),
  };
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
