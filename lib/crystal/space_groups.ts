/**
 * Space-group operators from a symbol: a Hall symbol is expanded with Hall's generator
 * algorithm (Hall, "Space-group notation with an explicit origin", Acta Cryst. A37, 517,
 * 1981; origin shifts "(0 0 1)" in twelfths as in Grosse-Kunstleve, Acta Cryst. A55, 383,
 * 1999); a Hermann–Mauguin symbol or an International Tables number is first mapped to the
 * Hall symbol of its standard setting through the 527-setting table of space_group_table.ts.
 *
 * Operators are exact: rotations are integer matrices and translations are kept in 24ths of a
 * lattice vector (every crystallographic translation is a multiple of 1/24) while the group is
 * closed, so no rounding can merge or split operators.
 * @module
 */

import { SPACE_GROUP_SETTINGS } from "./space_group_table.ts";

/** A symbol that does not name a space group, or a malformed Hall symbol. */
export class SpaceGroupError extends Error {
  /** `message` says which symbol and what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "SpaceGroupError";
  }
}

/** One resolved setting and its operators. */
export interface SpaceGroupSetting {
  /** International Tables number, 1..230. */
  number: number;
  /** Universal H-M symbol of the setting (`"F m -3 m"`, `"F d -3 m :2"`, `"R -3 m :H"`). */
  hm: string;
  /** Hall symbol the operators were generated from. */
  hall: string;
  /**
   * Operators as 12 numbers each, row r = (R[r][0..2], t[r]): f'_r = R[r]·f + t[r], with
   * t in [0, 1); all lattice-centring translations included, identity first.
   */
  operations: Float64Array[];
  /** Set when the symbol left a choice open that was filled with the standard (origin, axes). */
  assumed?: string;
  /** When origin choice 2 was assumed: the origin-choice-1 setting of the same group. */
  alternative?: { hm: string; hall: string; operations: Float64Array[] };
}

// ---------------------------------------------------------------- Hall symbols

const T = 24; // translations in 24ths

/** Seitz operator: rotation rows (9 integers) and translation in 24ths (3 integers, mod 24). */
interface Seitz {
  r: number[];
  t: number[];
}

const Z_AXIS: Record<string, number[]> = {
  "1": [1, 0, 0, 0, 1, 0, 0, 0, 1],
  "2": [-1, 0, 0, 0, -1, 0, 0, 0, 1],
  "3": [0, -1, 0, 1, -1, 0, 0, 0, 1],
  "4": [0, -1, 0, 1, 0, 0, 0, 0, 1],
  "6": [1, -1, 0, 1, 0, 0, 0, 0, 1],
  "2'": [0, -1, 0, -1, 0, 0, 0, 0, -1], // two-fold along a − b
  '2"': [0, 1, 0, 1, 0, 0, 0, 0, -1], // two-fold along a + b
};
const BODY_DIAGONAL_3 = [0, 0, 1, 1, 0, 0, 0, 1, 0]; // three-fold along a + b + c

/** Matrix of an axis-z matrix symbol seen along x or y: a cyclic permutation of x, y, z. */
function onAxis(m: number[], axis: "x" | "y" | "z"): number[] {
  if (axis === "z") return m.slice();
  const p = axis === "x" ? [1, 2, 0] : [2, 0, 1]; // where z-frame x, y, z go
  const out = new Array(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out[3 * p[i] + p[j]] = m[3 * i + j];
  return out;
}

const TRANSLATION: Record<string, number[]> = {
  a: [12, 0, 0],
  b: [0, 12, 0],
  c: [0, 0, 12],
  n: [12, 12, 12],
  u: [6, 0, 0],
  v: [0, 6, 0],
  w: [0, 0, 6],
  d: [6, 6, 6],
};

const CENTRING: Record<string, number[][]> = {
  P: [],
  A: [[0, 12, 12]],
  B: [[12, 0, 12]],
  C: [[12, 12, 0]],
  I: [[12, 12, 12]],
  R: [[16, 8, 8], [8, 16, 16]],
  S: [[8, 8, 16], [16, 16, 8]],
  T: [[8, 16, 8], [16, 8, 16]],
  F: [[0, 12, 12], [12, 0, 12], [12, 12, 0]],
};

const mod = (x: number) => ((x % T) + T) % T;

function compose(a: Seitz, b: Seitz): Seitz {
  const r = new Array(9).fill(0), t = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a.r[3 * i + k] * b.r[3 * k + j];
      r[3 * i + j] = s;
    }
    t[i] = mod(a.r[3 * i] * b.t[0] + a.r[3 * i + 1] * b.t[1] + a.r[3 * i + 2] * b.t[2] + a.t[i]);
  }
  return { r, t };
}

const keyOf = (s: Seitz) => `${s.r.join(",")};${s.t.join(",")}`;

/**
 * The operators of the space group with Hall symbol `hall` (e.g. `"-F 4 2 3"`,
 * `"-P 2ac 2n"`, `" P 31 2 (0 0 4)"`), generated and closed; identity first. Throws
 * {@link SpaceGroupError} naming the symbol and the bad part.
 */
export function hallOperations(hall: string): Float64Array[] {
  return hallSeitz(hall).map((s) => {
    const op = new Float64Array(12);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) op[4 * i + j] = s.r[3 * i + j];
      op[4 * i + 3] = s.t[i] / T;
    }
    return op;
  });
}

function hallSeitz(hall: string): Seitz[] {
  const fail = (why: string) => new SpaceGroupError(`bad Hall symbol "${hall.trim()}": ${why}`);
  let text = hall.trim();
  let shift = [0, 0, 0];
  const v = /\(([^)]*)\)\s*$/.exec(text);
  if (v) {
    const parts = v[1].trim().split(/[\s,]+/);
    if (parts.length !== 3 || !parts.every((p) => /^[+-]?\d+$/.test(p))) {
      throw fail(`origin shift "(${v[1]})" must be three integers (twelfths), e.g. "(0 0 1)"`);
    }
    shift = parts.map((p) => 2 * Number(p)); // twelfths → 24ths
    text = text.slice(0, v.index).trim();
  }
  const tokens = text.split(/\s+/).filter((x) => x !== "");
  const lat = /^(-?)([PABCIRSTF])$/i.exec(tokens[0] ?? "");
  if (!lat) throw fail(`"${tokens[0] ?? ""}" is not a lattice symbol (P, A, B, C, I, R, S, T, F)`);
  if (tokens.length < 2) throw fail("no rotation symbol after the lattice symbol");
  if (tokens.length > 5) throw fail(`${tokens.length - 1} rotation symbols (at most 4)`);
  const generators: Seitz[] = [];
  const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (const c of CENTRING[lat[2].toUpperCase()]) generators.push({ r: identity, t: c.slice() });
  if (lat[1] === "-") generators.push({ r: identity.map((x) => -x), t: [0, 0, 0] });

  let prevN = 0;
  let prevAxis: "x" | "y" | "z" = "z";
  tokens.slice(1).forEach((tok, i) => {
    const m = /^(-?)([12346])([xyz'"*]?)([abcnuvwd12345]*)$/.exec(tok);
    if (!m) throw fail(`cannot read the rotation symbol "${tok}"`);
    const [, improper, nText, axisText, trans] = m;
    const N = Number(nText);
    let axis = axisText;
    if (axis === "" && N !== 1) {
      if (i === 0) axis = "z";
      else if (i === 1 && N === 2 && (prevN === 2 || prevN === 4)) axis = "x";
      else if (i === 1 && N === 2 && (prevN === 3 || prevN === 6)) axis = "'";
      else if (i === 2 && N === 3) axis = "*";
      else throw fail(`the axis of "${tok}" is not implied; write it (x, y, z, ', ", *)`);
    }
    let r: number[];
    let along: number[] = [0, 0, 0];
    if (N === 1) r = identity.slice();
    else if (axis === "*") {
      if (N !== 3) throw fail(`"${tok}": only a three-fold axis lies along the body diagonal`);
      r = BODY_DIAGONAL_3.slice();
      along = [1, 1, 1];
    } else if (axis === "'" || axis === '"') {
      if (N !== 2) throw fail(`"${tok}": only two-fold axes are primed`);
      r = onAxis(Z_AXIS[`2${axis}`], prevAxis);
    } else {
      const ax = axis as "x" | "y" | "z";
      r = onAxis(Z_AXIS[nText], ax);
      along = [ax === "x" ? 1 : 0, ax === "y" ? 1 : 0, ax === "z" ? 1 : 0];
      prevAxis = ax;
    }
    if (improper === "-") r = r.map((x) => -x);
    const t = [0, 0, 0];
    for (const ch of trans) {
      if (ch >= "1" && ch <= "5") {
        const k = Number(ch);
        if (k >= N) throw fail(`"${tok}": screw component ${k} is not below the order ${N}`);
        for (let q = 0; q < 3; q++) t[q] += (along[q] * T * k) / N;
      } else {
        for (let q = 0; q < 3; q++) t[q] += TRANSLATION[ch][q];
      }
    }
    generators.push({ r, t: t.map(mod) });
    prevN = N;
  });

  // Close the group: left-multiply by the generators until nothing new appears.
  const id: Seitz = { r: identity, t: [0, 0, 0] };
  const group: Seitz[] = [id];
  const seen = new Set([keyOf(id)]);
  for (let k = 0; k < group.length; k++) {
    for (const g of generators) {
      const p = compose(g, group[k]);
      const key = keyOf(p);
      if (seen.has(key)) continue;
      if (group.length >= 192) throw fail("the generators do not close into a space group");
      seen.add(key);
      group.push(p);
    }
  }
  if (shift.some((x) => x !== 0)) {
    // New origin at −shift: t' = t − (R − I)·shift.
    for (const s of group) {
      for (let i = 0; i < 3; i++) {
        let d = 0;
        for (let j = 0; j < 3; j++) d += (s.r[3 * i + j] - (i === j ? 1 : 0)) * shift[j];
        s.t[i] = mod(s.t[i] - d);
      }
    }
  }
  return group;
}

// ---------------------------------------------------------------- symbol lookup

interface Entry {
  number: number;
  hm: string;
  hall: string;
  /** "", "1", "2", "h" or "r". */
  suffix: string;
}

let byKey: Map<string, Entry[]> | undefined;
let byNumber: Entry[][] | undefined;

/** Lower case, no spaces or underscores ("P 2_1/c" → "p21/c"), suffix split off. */
function normalize(symbol: string): { key: string; suffix: string } {
  const s = symbol.trim().toLowerCase().replace(/[\s_]+/g, "");
  const m = /:([12hr])$/.exec(s);
  return m ? { key: s.slice(0, m.index), suffix: m[1] } : { key: s, suffix: "" };
}

function table(): { byKey: Map<string, Entry[]>; byNumber: Entry[][] } {
  if (byKey && byNumber) return { byKey, byNumber };
  const keys = new Map<string, Entry[]>();
  const numbers: Entry[][] = [[]];
  const add = (key: string, e: Entry) => {
    const list = keys.get(key) ?? [];
    if (!list.includes(e)) list.push(e);
    keys.set(key, list);
  };
  SPACE_GROUP_SETTINGS.forEach((line, k) => {
    const list: Entry[] = [];
    for (const pair of line.split(";")) {
      const eq = pair.indexOf("=");
      const hm = pair.slice(0, eq), hall = pair.slice(eq + 1);
      const { key, suffix } = normalize(hm);
      const e: Entry = { number: k + 1, hm, hall, suffix };
      list.push(e);
      add(key, e);
    }
    numbers.push(list);
  });
  // Monoclinic short symbols ("P 21/c" for "P 1 21/c 1"); the first setting listed (unique
  // axis b, cell choice 1, then c, then a) keeps a short symbol shared by several.
  for (let n = 3; n <= 15; n++) {
    for (const e of numbers[n]) {
      const short = normalize(e.hm.split(" ").filter((p) => p !== "1").join(" ")).key;
      if (!keys.has(short)) keys.set(short, [e]);
    }
  }
  byKey = keys;
  byNumber = numbers;
  return { byKey: keys, byNumber: numbers };
}

/** Older and newer spellings of the same groups (ITA 2002 "e" glides; old cubic "m3"). */
const ALIASES: Record<string, string> = {
  abm2: "aem2",
  aba2: "aea2",
  cmca: "cmce",
  cmme: "cmma",
  ccce: "ccca",
  "ccce:1": "ccce:1",
  "ccca:1": "ccce:1",
  "ccce:2": "ccca:2",
};

/** Short forms of a full H-M symbol written with spaces ("P 21/n 21/m 21/a" → "P n m a"). */
function shortForms(symbol: string): string[] {
  const tokens = symbol.trim().split(/\s+/);
  if (tokens.length < 3) return [];
  const [lat, ...syms] = tokens;
  const bare = (t: string) => t.replace(/^-?\d+\//, "");
  const out: string[] = [];
  if (syms[1] === "-3" || syms[1] === "3") out.push([lat, ...syms.map(bare)].join(" "));
  out.push([lat, syms[0], ...syms.slice(1).map(bare)].join(" "));
  out.push([lat, ...syms.map(bare)].join(" "));
  // Old cubic notation without the bar: "F m 3 m" → "F m -3 m".
  if (syms[1] === "3" && /^[mnad]$/.test(syms[0])) {
    out.push([lat, syms[0], "-3", ...syms.slice(2)].join(" "));
  }
  return out;
}

function pick(list: Entry[], suffix: string, rhombohedral: boolean): Entry | undefined {
  if (suffix !== "") return list.find((e) => e.suffix === suffix);
  if (list.length === 1) return list[0];
  const want = list.some((e) => e.suffix === "2") ? "2" : rhombohedral ? "r" : "h";
  return list.find((e) => e.suffix === want) ?? list[0];
}

function assumption(e: Entry, suffix: string, siblings: number): string | undefined {
  if (suffix !== "" || siblings < 2) return undefined;
  if (e.suffix === "2") return "origin choice 2 (inversion centre at the origin)";
  if (e.suffix === "h") return "hexagonal axes";
  if (e.suffix === "r") return "rhombohedral axes (the cell has a = b = c, α = β = γ)";
  return undefined;
}

function setting(e: Entry, assumed?: string): SpaceGroupSetting {
  const out: SpaceGroupSetting = {
    number: e.number,
    hm: e.hm,
    hall: e.hall,
    operations: hallOperations(e.hall),
  };
  if (assumed) {
    out.assumed = assumed;
    if (e.suffix === "2") {
      // Origin choice 1 is listed just before its origin-choice-2 partner.
      const list = table().byNumber[e.number];
      const alt = list.slice(0, list.indexOf(e)).reverse().find((x) => x.suffix === "1");
      if (alt) {
        out.alternative = { hm: alt.hm, hall: alt.hall, operations: hallOperations(alt.hall) };
      }
    }
  }
  return out;
}

/**
 * The standard setting named by a Hermann–Mauguin symbol: full or short, with or without
 * spaces ("P 21/c", "P 1 21/c 1", "Pnma", "P 21/n 21/m 21/a", "F m -3 m", "Fm3m",
 * "P 63/m m c"), optional setting suffix ":1", ":2", ":H", ":R". Without a suffix, origin
 * choice 2 and hexagonal axes are taken (rhombohedral axes when `rhombohedral` says the cell
 * is one), and `assumed` says so. Undefined when the symbol is not known.
 */
export function settingFromHM(
  symbol: string,
  options: { rhombohedral?: boolean } = {},
): SpaceGroupSetting | undefined {
  const { byKey } = table();
  const rh = options.rhombohedral ?? false;
  const candidates = [symbol, ...shortForms(symbol)];
  for (const c of candidates) {
    let { key, suffix } = normalize(c);
    const alias = ALIASES[suffix ? `${key}:${suffix}` : key];
    if (alias !== undefined) ({ key, suffix } = normalize(alias));
    let list = byKey.get(key);
    if (!list) {
      // "Fm3m" → "Fm-3m" (old cubic notation, no spaces)
      const m = /^([pifabcr][mnad])3(.*)$/.exec(key);
      if (m) list = byKey.get(`${m[1]}-3${m[2]}`);
    }
    if (!list) continue;
    const e = pick(list, suffix, rh);
    if (e === undefined) {
      throw new SpaceGroupError(
        `space group "${symbol}" has no setting ":${suffix.toUpperCase()}" (settings: ${
          list.map((x) => x.hm).join(", ")
        })`,
      );
    }
    return setting(e, assumption(e, suffix, list.length));
  }
  return undefined;
}

/** The standard setting of International Tables group `number` (1..230); see {@link settingFromHM}. */
export function settingFromNumber(
  number: number,
  options: { rhombohedral?: boolean } = {},
): SpaceGroupSetting | undefined {
  if (!Number.isInteger(number) || number < 1 || number > 230) return undefined;
  const list = table().byNumber[number];
  const rh = options.rhombohedral ?? false;
  let e = list[0];
  if (e.suffix === "1") e = list.find((x) => x.suffix === "2") ?? e;
  else if (e.suffix === "h" && rh) e = list.find((x) => x.suffix === "r") ?? e;
  return setting(e, assumption(e, "", 2));
}

/** The setting of a Hall symbol, with its number when it is one of the table's settings. */
export function settingFromHall(hall: string): SpaceGroupSetting {
  const operations = hallOperations(hall);
  const { byNumber } = table();
  const norm = (h: string) => h.trim().replace(/\s+/g, " ");
  for (let n = 1; n <= 230; n++) {
    const e = byNumber[n].find((x) => norm(x.hall) === norm(hall));
    if (e) return { number: n, hm: e.hm, hall: e.hall, operations };
  }
  return { number: 0, hm: "", hall: norm(hall), operations };
}
