/**
 * Crystal core throughput: CIF parsing, neighbour lists (5- and 20-atom cells), the parse +
 * neighbours + Gaussian pipeline, and synthetic generation. Structures/s = 1e9 / (ns/iter).
 * Run: deno bench --allow-read bench/crystal.bench.ts
 */
import { parseCif } from "../lib/crystal/cif.ts";
import { latticeFromParameters } from "../lib/crystal/lattice.ts";
import { neighborList } from "../lib/crystal/neighbors.ts";
import { Rng } from "../lib/util/random.ts";
import { gaussianExpand } from "../lib/crystal/rbf.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import type { Structure } from "../lib/crystal/types.ts";

/** A small hand-written CIF: tetragonal BaTiO3-like cell, 5 atoms, P4mm operations. */
const CIF_5 = `data_BaTiO3
_cell_length_a 3.9999(2)
_cell_length_b 3.9999(2)
_cell_length_c 4.0170(3)
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 4 m m'
loop_
_symmetry_equiv_pos_as_xyz
x,y,z
-y,x,z
-x,-y,z
y,-x,z
x,-y,z
-x,y,z
-y,-x,z
y,x,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Ba1 Ba 0.0 0.0 0.0 1.0
Ti1 Ti 0.5 0.5 0.482 1.0
O1 O 0.5 0.5 0.016 1.0
O2 O 0.5 0.0 0.515 1.0
`;

/** A 20-atom P1 CIF written from a random cell (no symmetry operations). */
function cif20(): string {
  const rng = new Rng(20);
  const rows: string[] = [];
  const el = ["Li", "Fe", "P", "O"];
  // A 4×... grid with jitter keeps the atoms apart (≥ 0.5 Å) in a 7.2 × 6.1 × 6.8 Å cell.
  for (let i = 0; i < 20; i++) {
    const g = [i % 3, Math.floor(i / 3) % 3, Math.floor(i / 9)];
    const f = g.map((x, c) => ((x + 0.5 + 0.3 * (rng.next() - 0.5)) / [3, 3, 3][c]).toFixed(5));
    rows.push(`${el[i % 4]}${i + 1} ${el[i % 4]} ${f.join(" ")}`);
  }
  return `data_random20
_cell_length_a 7.2
_cell_length_b 6.1
_cell_length_c 6.8
_cell_angle_alpha 88.5
_cell_angle_beta 96.2
_cell_angle_gamma 91.0
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
${rows.join("\n")}
`;
}
const CIF_20 = cif20();

function randomCell(n: number, volumePerAtom: number, seed: number): Structure {
  const rng = new Rng(seed);
  const a = Math.cbrt(n * volumePerAtom);
  const frac = new Float64Array(3 * n).map(() => rng.next());
  return {
    id: `bench-${n}`,
    lattice: latticeFromParameters(a, a * 1.05, a * 0.95, 85, 95, 100),
    frac,
    numbers: new Int32Array(n).fill(26),
  };
}
const CELL_5 = randomCell(5, 15, 5);
const CELL_20 = randomCell(20, 15, 20);

Deno.bench("parseCif, 5 atoms after P4mm expansion", { group: "parse" }, () => {
  parseCif(CIF_5);
});
Deno.bench("parseCif, 20 atoms (P1)", { group: "parse" }, () => {
  parseCif(CIF_20);
});
Deno.bench("neighborList, 5-atom cell (r 8 Å, 12 nearest)", { group: "neighbors" }, () => {
  neighborList(CELL_5);
});
Deno.bench("neighborList, 20-atom cell (r 8 Å, 12 nearest)", { group: "neighbors" }, () => {
  neighborList(CELL_20);
});
Deno.bench("parse + neighbours + Gaussian, 5-atom CIF", { group: "pipeline" }, () => {
  gaussianExpand(neighborList(parseCif(CIF_5)).distances);
});
Deno.bench("parse + neighbours + Gaussian, 20-atom CIF", { group: "pipeline" }, () => {
  gaussianExpand(neighborList(parseCif(CIF_20)).distances);
});
Deno.bench(
  "syntheticCrystals(10000), all generated",
  { group: "synthetic", n: 3, warmup: 0 },
  () => {
    const ds = syntheticCrystals({ count: 10000, seed: 1 });
    for (let i = 0; i < ds.length; i++) ds.get(i);
  },
);
