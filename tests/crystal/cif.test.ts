import assert from "node:assert/strict";
import { CifError, parseCif } from "../../lib/crystal/cif.ts";
import { latticeFromParameters } from "../../lib/crystal/lattice.ts";

const SAMPLE_DIR = new URL("../../../shared/reference/cgcnn-sample/", import.meta.url);

function sampleFiles(): string[] | undefined {
  try {
    return [...Deno.readDirSync(SAMPLE_DIR)].map((e) => e.name).filter((n) => n.endsWith(".cif"))
      .sort();
  } catch {
    return undefined;
  }
}

/** 1-based line of the first occurrence of `needle` in `text` (for expected error lines). */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `test text lacks ${needle}`);
  return text.slice(0, at).split("\n").length;
}

function throwsCif(text: string, id: string, line: number | undefined, what: RegExp, opts = {}) {
  try {
    parseCif(text, { id, ...opts });
  } catch (e) {
    assert.ok(e instanceof CifError, `expected CifError, got ${e}`);
    assert.equal(e.id, id);
    assert.equal(e.line, line, `line in "${e.message}"`);
    assert.match(e.message, what);
    assert.ok(e.message.startsWith(line === undefined ? `${id}: ` : `${id} line ${line}: `));
    return e;
  }
  assert.fail(`no error for ${id}`);
}

// Standard atomic masses (IUPAC), only for deriving Z from the measured density below.
const MASS: Record<string, number> = { C: 12.011, Cl: 35.45, Cs: 132.905, Ge: 72.63, Si: 28.085 };

/** Element counts of the cell, derived from the file's own header (not from the parser). */
function expectedComposition(text: string): Map<string, number> {
  const get = (tag: string) => new RegExp(`^${tag}\\s+(.+)$`, "m").exec(text)?.[1].trim();
  const sum = get("_chemical_formula_sum")!.replace(/'/g, "");
  const unit = new Map<string, number>();
  for (const part of sum.split(/\s+/)) {
    const m = /^([A-Z][a-z]?)(\d*\.?\d*)$/.exec(part)!;
    unit.set(m[1], m[2] ? Number(m[2]) : 1);
  }
  let z = Number(get("_cell_formula_units_Z"));
  if (!Number.isFinite(z)) {
    // Z = ρ V N_A / M: density in g/cm³, volume in Å³ (1 Å³ = 1e-24 cm³).
    const rho = Number(get("_exptl_crystal_density_diffrn"));
    const vol = Number(get("_cell_volume")!.replace(/\(.*\)/, ""));
    let mass = 0;
    for (const [el, n] of unit) mass += MASS[el] * n;
    z = Math.round((rho * vol * 0.602214076) / mass);
  }
  return new Map([...unit].map(([el, n]) => [el, n * z]));
}

const SYMBOL: Record<number, string> = { 6: "C", 8: "O", 11: "Na", 14: "Si", 16: "S", 17: "Cl" };
Object.assign(SYMBOL, { 19: "K", 22: "Ti", 30: "Zn", 32: "Ge", 55: "Cs", 56: "Ba" });

Deno.test("COD sample CIFs parse to the cell content given by formula and Z", async (t) => {
  const files = sampleFiles();
  if (!files) {
    console.warn(`skipped: ${SAMPLE_DIR.pathname} not found`);
    return;
  }
  assert.equal(files.length, 10);
  for (const name of files) {
    await t.step(name, () => {
      const text = Deno.readTextFileSync(new URL(name, SAMPLE_DIR));
      const s = parseCif(text, { id: name });
      const want = expectedComposition(text);
      const got = new Map<string, number>();
      for (const z of s.numbers) got.set(SYMBOL[z], (got.get(SYMBOL[z]) ?? 0) + 1);
      assert.deepEqual(got, want, name);
      assert.equal(s.frac.length, 3 * s.numbers.length);
      assert.ok(s.frac.every((x) => x >= 0 && x < 1));
      assert.equal(s.id, name);
    });
  }
});

Deno.test("NaCl conventional cell: 8 atoms at the rock-salt positions", () => {
  const files = sampleFiles();
  if (!files) return console.warn("skipped: sample folder not found");
  const s = parseCif(Deno.readTextFileSync(new URL("1000041.cif", SAMPLE_DIR)));
  assert.equal(s.numbers.length, 8);
  assert.equal(s.id, "1000041"); // block name when no id is given
  assert.deepEqual(Array.from(s.lattice), [5.62, 0, 0, 0, 5.62, 0, 0, 0, 5.62]);
  for (let i = 0; i < 8; i++) {
    const f = Array.from(s.frac.subarray(3 * i, 3 * i + 3));
    const halves = f.filter((x) => Math.abs(x - 0.5) < 1e-12).length;
    assert.ok(f.every((x) => x === 0 || Math.abs(x - 0.5) < 1e-12));
    // Na (fcc at the origin): an even number of halves; Cl (shifted by ½,½,½): odd.
    assert.equal(s.numbers[i], halves % 2 === 0 ? 11 : 17);
  }
});

const P21C = `data_p21c
_cell_length_a 5.0
_cell_length_b 6.0
_cell_length_c 7.0
_cell_angle_alpha 90
_cell_angle_beta 100
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_site_id
_symmetry_equiv_pos_as_xyz
1 x,y,z
2 '-x, y+1/2, -z+1/2'
3 -x,-y,-z
4 'x, 1/2-y, 1/2+z'
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Fe1 0.1 0.2 0.3
O1 0 0 0
`;

Deno.test("symmetry expansion: P2_1/c general (4) and special (2) positions", () => {
  const s = parseCif(P21C);
  assert.deepEqual(Array.from(s.numbers), [26, 26, 26, 26, 8, 8]);
  const want = [
    [0.1, 0.2, 0.3],
    [0.9, 0.7, 0.2],
    [0.9, 0.8, 0.7],
    [0.1, 0.3, 0.8],
    [0, 0, 0],
    [0, 0.5, 0.5],
  ];
  want.forEach((w, i) =>
    w.forEach((x, c) => assert.ok(Math.abs(s.frac[3 * i + c] - x) < 1e-12, `atom ${i}`))
  );
  assert.ok(
    s.lattice.every((x, k) => Math.abs(x - latticeFromParameters(5, 6, 7, 90, 100, 90)[k]) < 1e-12),
  );
});

const P3 = `data_p3
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 5.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 120
loop_
_space_group_symop_id
_space_group_symop_operation_xyz
1 x,y,z
2 -y,x-y,z
3 -x+y,-x,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Al1 Al3+ 0.3333 0.6667 0.1
Si1 Si 0.1 0.2 0.3
`;

Deno.test("symmetry expansion: P3 with 'x-y' operations, special position merged (1e-3)", () => {
  const s = parseCif(P3);
  assert.deepEqual(Array.from(s.numbers), [13, 14, 14, 14]);
  // Si: (x, y), (−y, x−y), (−x+y, −x)
  const si = [[0.1, 0.2], [0.8, 0.9], [0.1, 0.9]];
  si.forEach(([x, y], k) => {
    assert.ok(
      Math.abs(s.frac[3 * (k + 1)] - x) < 1e-12 && Math.abs(s.frac[3 * (k + 1) + 1] - y) < 1e-12,
    );
  });
});

Deno.test("symmetry operations in other spellings: '1/2+x', 'z+0.25', '+y', upper case", () => {
  const ops = ["x,y,z", "1/2+x,+Y,z+0.25", "'X+1/2, y+1/2, 0.5+z'"];
  const text = P21C.replace(/loop_\n_symmetry_equiv_pos_site_id[\s\S]*?(?=loop_)/, "") +
    `loop_\n_symmetry_equiv_pos_as_xyz\n${ops.join("\n")}\n`;
  const s = parseCif(text);
  assert.equal(s.numbers.length, 6); // 2 sites × 3 distinct images
  assert.ok(Math.abs(s.frac[3] - 0.6) < 1e-12 && Math.abs(s.frac[5] - 0.55) < 1e-12);
  throwsCif(
    text.replace("1/2+x,+Y,z+0.25", "1/2+x,y"),
    "badop",
    lineOf(text, "1/2+x,+Y"),
    /cannot parse symmetry operation "1\/2\+x,y"/,
  );
  throwsCif(
    text.replace("1/2+x,+Y,z+0.25", "x,y,w"),
    "badop2",
    lineOf(text, "1/2+x,+Y"),
    /cannot parse symmetry operation "x,y,w"/,
  );
});

const SYNTAX = `# leading comment
data_publication
_publ_section_title
;
 A title with data_fake and loop_ and _cell_length_a 99 inside a text field
;
_journal_name_full 'Acta O'Neil Cryst.'   # quote inside a quoted value
_publ_contact_author "J. "Q"Doe"  # CIF 1.1: a quote ends only before white space
global_
data_structure
_cell_length_a                   5.431(2)
_cell_length_b                   5.431(12)   # esd in parentheses
_cell_length_c                   '5.431'
_cell_angle_alpha                90.0(0)
_cell_angle_beta                 90
_cell_angle_gamma                90.
_refine_special_details
;
_cell_length_a 99
loop_ 'not a loop'
;
_symmetry_space_group_name_H-M   'P 1'
_exptl_crystal_density_diffrn    ?
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
_atom_site_U_iso_or_equiv
Si1 ? 0.0 0.0 0.0 1.0(0) ?
O2- O2- .5 .5 .5 . .
data_second_block
_cell_length_a 1
_cell_length_b 1
_cell_length_c 1
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Xx 0 0 0
`;

Deno.test("syntax: esd, quotes, text fields, comments, '?'/'.', a block chosen by option", () => {
  // Two blocks have atom sites: an error naming both, unless the block option picks one.
  throwsCif(
    SYNTAX,
    "two",
    lineOf(SYNTAX, "data_second_block"),
    /2 data blocks have atom sites \(data_structure, data_second_block\); pick one with the block option/,
  );
  assert.throws(() => parseCif(SYNTAX, { block: "nope" }), /no data block "nope" with atom sites/);
  assert.throws(() => parseCif(SYNTAX, { block: 1 }), /unknown element symbol "Xx"/);
  assert.equal(parseCif(SYNTAX, { block: 0 }).id, "structure");
  const s = parseCif(SYNTAX, { block: "data_structure" });
  assert.equal(s.id, "structure");
  assert.deepEqual(Array.from(s.lattice), [5.431, 0, 0, 0, 5.431, 0, 0, 0, 5.431]);
  assert.deepEqual(Array.from(s.numbers), [14, 8]); // Si from the label (type '?'), O from "O2-"
  assert.deepEqual(Array.from(s.frac), [0, 0, 0, 0.5, 0.5, 0.5]);
  assert.equal(parseCif(SYNTAX.replaceAll("\n", "\r\n"), { block: "structure" }).numbers.length, 2);
});

const BASE = `data_base
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Fe1 Fe 0.0 0.0 0.0 1
O1 O 0.5 0.5 0.5 1
`;

Deno.test("malformed CIFs give CifErrors naming the id, the line and the problem", () => {
  assert.equal(parseCif(BASE, { id: "ok.cif" }).numbers.length, 2);
  const at = (needle: string) => lineOf(BASE, needle);
  throwsCif(
    BASE.replace("O1 O 0.5", "O1 Xx 0.5"),
    "1000041.cif",
    at("O1 O"),
    /unknown element symbol "Xx"/,
  );
  throwsCif(BASE.replace("_cell_length_b 4.0\n", ""), "nocell.cif", 1, /missing _cell_length_b/);
  throwsCif(
    BASE.replace("O1 O 0.5 0.5 0.5 1\n", "O1 O 0.5 0.5\n"),
    "trunc.cif",
    at("loop_"),
    /6 tags .* 10 values.*truncated/,
  );
  throwsCif(
    BASE.replace("Fe 0.0 0.0", "Fe abc 0.0"),
    "nan.cif",
    at("Fe1"),
    /site "Fe1" fract_x "abc" is not a number/,
  );
  throwsCif(
    BASE.replace("Fe 0.0 0.0", "Fe NaN 0.0"),
    "nan2.cif",
    at("Fe1"),
    /fract_x "NaN" is not a number/,
  );
  throwsCif(
    BASE.replace("Fe 0.0 0.0 0.0", "Fe 0.0 ? 0.0"),
    "unk.cif",
    at("Fe1"),
    /site "Fe1" fract_y is unknown/,
  );
  throwsCif(
    BASE.replace("O 0.5 0.5 0.5", "O 0.05 0.0 0.0"),
    "overlap.cif",
    at("O1 O"),
    /sites "Fe1" and "O1" overlap: 0.200 Å apart \(< 0.5 Å\)/,
  );
  assert.equal(
    parseCif(BASE.replace("O 0.5 0.5 0.5", "O 0.05 0.0 0.0"), { minDistance: 0.1 }).numbers.length,
    2,
  );
  throwsCif(
    BASE.replace("O 0.5 0.5 0.5", "O 0.95 0.0 0.0"),
    "overlap-periodic.cif",
    at("O1 O"),
    /overlap: 0.200 Å/,
  );
  throwsCif("", "empty.cif", undefined, /empty file/);
  throwsCif("# only a comment\n\n", "comment.cif", undefined, /empty file/);
  throwsCif(BASE.slice(0, BASE.indexOf("loop_")), "noatoms.cif", 1, /no atoms/);
  throwsCif(
    BASE.replace("O1 O 0.5 0.5 0.5 1", "O1 O 0.5 0.5 0.5 0.5"),
    "partial.cif",
    at("O1 O"),
    /site "O1" has partial occupancy 0.5/,
  );
  throwsCif(
    BASE.replace("_cell_angle_gamma 90", "_cell_angle_gamma 180"),
    "flat.cif",
    at("_cell_length_a"),
    /volume .* zero/,
  );
  throwsCif(
    BASE.replace("_cell_length_c 4.0", "_cell_length_c -4.0"),
    "neg.cif",
    at("_cell_length_a"),
    /cell length -4 is not positive/,
  );
  throwsCif(
    BASE.replace("_cell_length_c 4.0", "_cell_length_c four"),
    "word.cif",
    at("_cell_length_c"),
    /_cell_length_c "four" is not a number/,
  );
  throwsCif(
    BASE.replace("_cell_angle_beta 90", "_cell_angle_beta 'unterminated"),
    "quote.cif",
    at("_cell_angle_beta"),
    /unterminated quoted string/,
  );
  throwsCif(
    BASE + ";\nnever closed\n",
    "text.cif",
    BASE.split("\n").length,
    /unterminated ';' text field/,
  );
  throwsCif(
    BASE + "_cell_volume\n",
    "tag.cif",
    BASE.split("\n").length,
    /tag _cell_volume has no value/,
  );
  throwsCif("just words\n", "nodata.cif", 1, /before the first data_ block/);
});

Deno.test("partial occupancy: majority species by option", () => {
  const disordered = BASE.replace(
    "O1 O 0.5 0.5 0.5 1\n",
    "O1 O 0.5 0.5 0.5 1\nNi1 Ni 0.0 0.0 0.0 0.4\nCo1 Co 0.25 0.25 0.25 0.3\n",
  ).replace("Fe1 Fe 0.0 0.0 0.0 1", "Fe1 Fe 0.0 0.0 0.0 0.6");
  throwsCif(disordered, "dis.cif", lineOf(disordered, "Fe1"), /partial occupancy 0.6/);
  const s = parseCif(disordered, { occupancy: "majority" });
  // Fe 0.6 beats Ni 0.4 at the origin; Co 0.3 loses to its vacancy (0.7) and is dropped.
  assert.deepEqual(Array.from(s.numbers), [26, 8]);
});
