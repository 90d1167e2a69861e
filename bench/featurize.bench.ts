/**
 * Input-side throughput (issue 3 targets, one core):
 * - CIF parse + neighbour list + atom features + Gaussian edge features: ≥ 10,000 structures/s
 *   for 5-atom cells, ≥ 2,000/s for 20-atom cells. Each iteration handles BATCH structures, so
 *   structures/s = BATCH / (time per iteration).
 * - featurize vs cached reload of the same data set: ≥ 10× faster (group baseline).
 * - syntheticCrystals: 10,000 crystals generated in < 10 s.
 *
 * Run: `deno bench --allow-read --allow-write --allow-env bench/featurize.bench.ts`
 */
import { parseCif } from "../lib/crystal/cif.ts";
import { neighborList } from "../lib/crystal/neighbors.ts";
import { atomFeatures } from "../lib/crystal/atom_features.ts";
import { gaussianExpand } from "../lib/crystal/rbf.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import { ELEMENT_SYMBOLS } from "../lib/crystal/symbols.ts";
import { featurize, loadGraphs } from "../lib/data/featurize.ts";
import type { Structure } from "../lib/crystal/types.ts";

const BATCH = 100;

/** A P1 CIF of a structure (cell parameters from the lattice rows). */
function p1Cif(s: Structure, id: string): string {
  const L = s.lattice;
  const len = (i: number) => Math.hypot(L[3 * i], L[3 * i + 1], L[3 * i + 2]);
  const ang = (i: number, j: number) =>
    Math.acos(
      (L[3 * i] * L[3 * j] + L[3 * i + 1] * L[3 * j + 1] + L[3 * i + 2] * L[3 * j + 2]) /
        (len(i) * len(j)),
    ) * 180 / Math.PI;
  const lines = [
    `data_${id}`,
    `_cell_length_a ${len(0).toFixed(6)}`,
    `_cell_length_b ${len(1).toFixed(6)}`,
    `_cell_length_c ${len(2).toFixed(6)}`,
    `_cell_angle_alpha ${ang(1, 2).toFixed(5)}`,
    `_cell_angle_beta ${ang(0, 2).toFixed(5)}`,
    `_cell_angle_gamma ${ang(0, 1).toFixed(5)}`,
    "_symmetry_space_group_name_H-M 'P 1'",
    "loop_",
    "_symmetry_equiv_pos_as_xyz",
    "  'x, y, z'",
    "loop_",
    "_atom_site_label",
    "_atom_site_type_symbol",
    "_atom_site_fract_x",
    "_atom_site_fract_y",
    "_atom_site_fract_z",
    "_atom_site_occupancy",
  ];
  for (let a = 0; a < s.numbers.length; a++) {
    const sym = ELEMENT_SYMBOLS[s.numbers[a] - 1];
    const f = (k: number) => s.frac[3 * a + k].toFixed(6);
    lines.push(`${sym}${a + 1} ${sym} ${f(0)} ${f(1)} ${f(2)} 1`);
  }
  return lines.join("\n") + "\n";
}

/** BATCH CIF texts of synthetic crystals with exactly `atoms` atoms. */
function cifsWithAtoms(atoms: number): string[] {
  const ds = syntheticCrystals({ count: 20000, seed: 42, cache: false });
  const out: string[] = [];
  for (let i = 0; i < ds.length && out.length < BATCH; i++) {
    const { structure: s } = ds.get(i);
    if (s.numbers.length === atoms) out.push(p1Cif(s, `c${i}`));
  }
  if (out.length < BATCH) {
    throw new Error(`only ${out.length} synthetic crystals with ${atoms} atoms`);
  }
  return out;
}

function pipeline(cifs: string[]): number {
  let sink = 0;
  for (const text of cifs) {
    const s = parseCif(text);
    const nl = neighborList(s, { radius: 8, maxNeighbors: 12 });
    const af = atomFeatures(s.numbers);
    const ef = gaussianExpand(nl.distances);
    sink += af.length + ef[ef.length - 1];
  }
  return sink;
}

const cifs5 = cifsWithAtoms(5);
const cifs20 = cifsWithAtoms(20);

Deno.bench({
  name: `CIF → neighbours → features, 5-atom cells ×${BATCH}`,
  group: "pipeline",
  fn: () => {
    pipeline(cifs5);
  },
});

Deno.bench({
  name: `CIF → neighbours → features, 20-atom cells ×${BATCH}`,
  group: "pipeline",
  fn: () => {
    pipeline(cifs20);
  },
});

// featurize vs cached reload: 500 synthetic crystals, and the same as a CSV file.
const CACHE_COUNT = 500;
const cacheDir = await Deno.makeTempDir({ prefix: "featurize_bench_" });
const dataset = syntheticCrystals({ count: CACHE_COUNT, seed: 7 });
for (let i = 0; i < dataset.length; i++) dataset.get(i); // generate up front, outside timing
await featurize(dataset, { cacheDir, quiet: true }); // warm the cache
const csvPath = `${cacheDir}/set.csv`;
{
  const rows = ["material_id,formation_energy_per_atom,cif"];
  for (let i = 0; i < dataset.length; i++) {
    const { id, structure, target } = dataset.get(i);
    rows.push(`${id},${target},"${p1Cif(structure, id)}"`);
  }
  await Deno.writeTextFile(csvPath, rows.join("\n") + "\n");
  await loadGraphs(csvPath, { cacheDir, quiet: true });
}
globalThis.addEventListener("unload", () => Deno.removeSync(cacheDir, { recursive: true }));

Deno.bench({
  name: `featurize ${CACHE_COUNT} synthetic crystals (no cache)`,
  group: "cache",
  baseline: true,
  fn: async () => {
    await featurize(dataset, { cacheDir: null });
  },
});

Deno.bench({
  name: `featurize ${CACHE_COUNT} synthetic crystals (cached reload)`,
  group: "cache",
  fn: async () => {
    const r = await featurize(dataset, { cacheDir, quiet: true });
    if (!r.fromCache) throw new Error("expected a cache hit");
  },
});

Deno.bench({
  name: `loadGraphs CSV of ${CACHE_COUNT} CIFs (parse + featurize, no cache)`,
  group: "csv-cache",
  baseline: true,
  fn: async () => {
    await loadGraphs(csvPath, { cacheDir: null, quiet: true });
  },
});

Deno.bench({
  name: `loadGraphs CSV of ${CACHE_COUNT} CIFs (cached reload)`,
  group: "csv-cache",
  fn: async () => {
    const r = await loadGraphs(csvPath, { cacheDir, quiet: true });
    if (!r.fromCache) throw new Error("expected a cache hit");
  },
});

Deno.bench({
  name: "syntheticCrystals 10,000 (generate all)",
  group: "synthetic",
  n: 3,
  warmup: 1,
  fn: () => {
    const ds = syntheticCrystals({ count: 10000, seed: 1 });
    for (let i = 0; i < ds.length; i++) ds.get(i);
  },
});
