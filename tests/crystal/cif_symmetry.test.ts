/**
 * CIF symmetry from the space-group symbol alone: the real COD files of the CGCNN sample carry
 * both the symbols and the operator loop, so stripping the loop and expanding from the Hall
 * symbol, the H-M symbol or the IT number must give the same structure as the loop does.
 * Plus hand-written cases (rock salt, hexagonal, centred and rhombohedral settings), and clear
 * errors for unknown symbols, a number that contradicts the symbol, malformed operators and
 * flat cells.
 */
import assert from "node:assert/strict";
import { CifError, parseCif } from "../../lib/crystal/cif.ts";
import type { Structure } from "../../lib/crystal/types.ts";

const SAMPLE = new URL("../../../shared/reference/cgcnn-sample/", import.meta.url);
const SYMBOL_TAGS = [
  "_space_group_name_hall",
  "_symmetry_space_group_name_hall",
  "_space_group_name_h-m_alt",
  "_symmetry_space_group_name_h-m",
  "_space_group_it_number",
  "_symmetry_int_tables_number",
];

/** `text` without the operator loop and without the symbol tags not in `keep`. */
function strip(text: string, keep: string[]): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim().toLowerCase();
    if (l === "loop_" && /^_(symmetry_equiv_pos|space_group_symop)/i.test(lines[i + 1].trim())) {
      i++;
      while (i < lines.length && lines[i].trim().startsWith("_")) i++;
      while (
        i < lines.length && !/^(loop_|_|data_)/i.test(lines[i].trim()) && lines[i].trim() !== ""
      ) i++;
      i--;
      continue;
    }
    const tag = l.split(/\s+/)[0];
    if (SYMBOL_TAGS.includes(tag) && !keep.includes(tag)) continue;
    out.push(lines[i]);
  }
  return out.join("\n");
}

/** Asserts that two structures hold the same atoms (same species within 1e-3, periodic). */
function sameAtoms(a: Structure, b: Structure, what: string): void {
  assert.equal(a.numbers.length, b.numbers.length, `${what}: atom count`);
  const used = new Array(b.numbers.length).fill(false);
  for (let i = 0; i < a.numbers.length; i++) {
    const j = b.numbers.findIndex((z, k) => {
      if (used[k] || z !== a.numbers[i]) return false;
      let d2 = 0;
      for (let c = 0; c < 3; c++) {
        const d = a.frac[3 * i + c] - b.frac[3 * k + c];
        d2 += (d - Math.round(d)) ** 2;
      }
      return d2 < 1e-6;
    });
    assert.ok(j >= 0, `${what}: atom ${i + 1} (Z = ${a.numbers[i]}) has no counterpart`);
    used[j] = true;
  }
}

Deno.test("COD samples: the operator loop and each symbol alone give the same structure", async () => {
  const files = [...Deno.readDirSync(SAMPLE)].map((e) => e.name).filter((n) => n.endsWith(".cif"))
    .sort();
  assert.equal(files.length, 10);
  const numbers = new Set<number>();
  let compared = 0, loopMatters = 0, wrongOrigin = 0;
  for (const name of files) {
    const text = await Deno.readTextFile(new URL(name, SAMPLE));
    const ref = parseCif(text, { id: name });
    const hm = /_symmetry_space_group_name_H-M\s+'([^']+)'/.exec(text)![1];
    numbers.add(Number(/_space_group_IT_number\s+(\d+)/.exec(text)![1]));
    const noSymmetry = parseCif(strip(text, []), { id: name });
    if (noSymmetry.numbers.length < ref.numbers.length) loopMatters++;
    for (const keep of [[SYMBOL_TAGS[1]], [SYMBOL_TAGS[3]], [SYMBOL_TAGS[4]]]) {
      const stripped = strip(text, keep);
      if (keep[0] === "_space_group_it_number" && hm.includes(":1")) {
        // The number alone means the standard setting (origin choice 2), not this file's:
        // either an overlap that names the assumption, or a different structure.
        let other: Structure | undefined;
        try {
          other = parseCif(stripped, { id: name });
        } catch (e) {
          assert.ok(e instanceof CifError);
          assert.match(
            e.message,
            /look like origin choice 1 .*write the symbol with ":1" or ":2"|overlap.*assuming origin choice 2/,
          );
          wrongOrigin++;
        }
        if (other) assert.throws(() => sameAtoms(other, ref, name));
        continue;
      }
      const s = parseCif(stripped, { id: name });
      sameAtoms(s, ref, `${name} from ${keep[0]}`);
      compared++;
    }
  }
  assert.equal(compared, 26); // 10 files × 3 symbols, less 4 origin-1 files read by number
  assert.ok(wrongOrigin >= 1, "an origin-1 file read as origin 2 names the assumption");
  assert.ok(loopMatters >= 8, `the operator loop adds atoms in ${loopMatters} files`);
  // hexagonal (186), F-centred (225, 69, 227 origin 1), I-centred (141 origin 1), primitive
  assert.deepEqual([...numbers].sort((a, b) => a - b), [69, 99, 141, 186, 221, 225, 227]);
});

const CELL = (a: number, c = a, gamma = 90) =>
  `_cell_length_a ${a}\n_cell_length_b ${a}\n_cell_length_c ${c}\n` +
  `_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma ${gamma}\n`;
const SITES = (rows: string) =>
  `loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n` +
  `_atom_site_fract_z\n${rows}\n`;

function formula(s: Structure): Record<number, number> {
  const out: Record<number, number> = {};
  for (const z of s.numbers) out[z] = (out[z] ?? 0) + 1;
  return out;
}

Deno.test("symbol-only CIFs across space groups: rock salt, hexagonal, centred, rhombohedral", () => {
  const nacl = (sym: string) =>
    `data_nacl\n${sym}\n${CELL(5.64)}${SITES("Na1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5")}`;
  for (
    const sym of [
      "_symmetry_space_group_name_H-M 'F m -3 m'",
      "_space_group_name_H-M_alt 'F m -3 m'",
      "_space_group_name_Hall '-F 4 2 3'",
      "_space_group_IT_number 225",
      "_symmetry_Int_Tables_number 225",
      "_symmetry_space_group_name_H-M 'Fm3m'",
    ]
  ) {
    const s = parseCif(nacl(sym));
    assert.deepEqual(formula(s), { 11: 4, 17: 4 }, sym);
  }
  // Without any symmetry information the file is taken as P 1, as before.
  assert.equal(parseCif(nacl("")).numbers.length, 2);

  const cases: [string, string, Record<number, number>][] = [
    // hcp Mg, P 63/m m c (hexagonal), 2c site
    ["P 63/m m c", `${CELL(3.21, 5.21, 120)}${SITES("Mg1 Mg 0.3333333 0.6666667 0.25")}`, {
      12: 2,
    }],
    // wurtzite ZnO, P 63 m c
    [
      "P 63 m c",
      `${CELL(3.25, 5.21, 120)}${
        SITES("Zn1 Zn 0.3333333 0.6666667 0\nO1 O 0.3333333 0.6666667 0.382")
      }`,
      { 30: 2, 8: 2 },
    ],
    // diamond Si, F d -3 m origin choice 2 (default) and origin choice 1
    ["F d -3 m", `${CELL(5.43)}${SITES("Si1 Si 0.125 0.125 0.125")}`, { 14: 8 }],
    ["F d -3 m :1", `${CELL(5.43)}${SITES("Si1 Si 0 0 0")}`, { 14: 8 }],
    ["F d -3 m :2", `${CELL(5.43)}${SITES("Si1 Si 0.125 0.125 0.125")}`, { 14: 8 }],
    // bcc Fe, I m -3 m
    ["I m -3 m", `${CELL(2.87)}${SITES("Fe1 Fe 0 0 0")}`, { 26: 2 }],
    // CsCl, P m -3 m
    ["P m -3 m", `${CELL(4.12)}${SITES("Cs1 Cs 0 0 0\nCl1 Cl 0.5 0.5 0.5")}`, { 55: 1, 17: 1 }],
    // alpha-Al2O3-like R -3 c, hexagonal axes: Al 12c, O 18e
    [
      "R -3 c",
      `${CELL(4.76, 12.99, 120)}${SITES("Al1 Al 0 0 0.3522\nO1 O 0.3064 0 0.25")}`,
      { 13: 12, 8: 18 },
    ],
    // rutile TiO2, P 42/m n m
    ["P 42/m n m", `${CELL(4.59, 2.96)}${SITES("Ti1 Ti 0 0 0\nO1 O 0.305 0.305 0")}`, {
      22: 2,
      8: 4,
    }],
  ];
  for (const [hm, body, want] of cases) {
    const s = parseCif(`data_x\n_symmetry_space_group_name_H-M '${hm}'\n${body}`);
    assert.deepEqual(formula(s), want, hm);
  }
  // Rhombohedral axes are taken when the cell is rhombohedral: Bi (R -3 m), 2 atoms.
  const rh = `data_bi\n_symmetry_space_group_name_H-M 'R -3 m'\n_cell_length_a 4.75\n` +
    `_cell_length_b 4.75\n_cell_length_c 4.75\n_cell_angle_alpha 57.23\n` +
    `_cell_angle_beta 57.23\n_cell_angle_gamma 57.23\n${SITES("Bi1 Bi 0.2339 0.2339 0.2339")}`;
  assert.deepEqual(formula(parseCif(rh)), { 83: 2 });
});

Deno.test("unknown or contradictory symbols, malformed operators and flat cells name the cause", () => {
  const body = `${CELL(5.64)}${SITES("Na1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5")}`;
  const err = (text: string, want: RegExp) =>
    assert.throws(() => parseCif(text, { id: "x.cif" }), (e: Error) => {
      assert.ok(e instanceof CifError);
      assert.match(e.message, want);
      return true;
    });
  err(
    `data_x\n_symmetry_space_group_name_H-M 'F m -3 q'\n${body}`,
    /^x\.cif line 2: unknown space group _symmetry_space_group_name_h-m "F m -3 q" and no symmetry operator loop/,
  );
  // Origin-choice-1 coordinates under a symbol without the choice: refused, not guessed.
  err(
    `data_si\n_symmetry_space_group_name_H-M 'F d -3 m'\n${CELL(5.43)}${SITES("Si1 Si 0 0 0")}`,
    /line 2: _symmetry_space_group_name_h-m "F d -3 m" does not say which origin choice .* look like origin choice 1 \(8 atoms with "F d -3 m :1", 16 with "F d -3 m :2"\)/,
  );
  err(`data_x\n_space_group_IT_number 231\n${body}`, /unknown space group .* "231"/);
  err(`data_x\n_space_group_name_Hall '-F 4 2 9'\n${body}`, /bad Hall symbol "-F 4 2 9"/);
  err(
    `data_x\n_symmetry_space_group_name_H-M 'F m -3 m'\n_space_group_IT_number 221\n${body}`,
    /line 3: _space_group_it_number 221 disagrees with _symmetry_space_group_name_h-m "F m -3 m" \(space group 225\)/,
  );
  const ops = (op: string) => `data_x\n${body}loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n${op}\n`;
  err(ops("2x,y,z"), /symmetry operation "2x,y,z" is not a symmetry: .*determinant 2/);
  err(ops("x,x,z"), /"x,x,z" is not a symmetry: .*determinant 0/);
  err(
    ops("x/2,y,z"),
    /"x\/2,y,z" is not a symmetry: the coefficient of x in its first part is 0\.5/,
  );
  err(ops("x,y,q"), /cannot parse symmetry operation "x,y,q"/);
  const flat = `data_x\n_cell_length_a 5\n_cell_length_b 5\n_cell_length_c 5\n` +
    `_cell_angle_alpha 120\n_cell_angle_beta 120\n_cell_angle_gamma 120\n` +
    SITES("Na1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5");
  err(
    flat,
    /line 2: cell \(5, 5, 5, 120, 120, 120\): the angles do not form a cell \(α \+ β \+ γ = 360°/,
  );
  err(
    flat.replace("alpha 120", "alpha 30").replace("beta 120", "beta 30").replace(
      "gamma 120",
      "gamma 90",
    ),
    /one angle is not below the sum/,
  );
});
