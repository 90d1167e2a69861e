import assert from "node:assert/strict";
import { latticeFromParameters, latticeParameters } from "../../lib/crystal/lattice.ts";
import { neighborList } from "../../lib/crystal/neighbors.ts";
import {
  SYNTHETIC_ELEMENTS,
  syntheticCrystals,
  syntheticEnergy,
  syntheticMinDistance,
} from "../../lib/data/synthetic.ts";
import type { Structure } from "../../lib/crystal/types.ts";

const N = 600;
const data = syntheticCrystals({ count: N, seed: 42 });
const entries = Array.from({ length: N }, (_, i) => data.get(i));

/** Lattice system from the cell parameters (computed here, independently of the generator). */
function system(s: Structure): string {
  const p = latticeParameters(s.lattice);
  const eq = (x: number, y: number) => Math.abs(x - y) < 1e-6;
  const right = [p.alpha, p.beta, p.gamma].map((x) => eq(x, 90));
  if (right.every(Boolean)) {
    if (eq(p.a, p.b) && eq(p.b, p.c)) return "cubic";
    if (eq(p.a, p.b) || eq(p.b, p.c) || eq(p.a, p.c)) return "tetragonal";
    return "orthorhombic";
  }
  if (right[0] && right[1] && eq(p.gamma, 120) && eq(p.a, p.b)) return "hexagonal";
  if (right.filter(Boolean).length === 2) return "monoclinic";
  return "triclinic";
}

Deno.test("deterministic for a seed, independent of access order; seeds differ", () => {
  const again = syntheticCrystals({ count: N, seed: 42 });
  for (const i of [599, 0, 17, 300]) {
    const a = entries[i], b = again.get(i);
    assert.equal(a.id, b.id);
    assert.equal(a.target, b.target);
    assert.deepEqual(a.structure.lattice, b.structure.lattice);
    assert.deepEqual(a.structure.frac, b.structure.frac);
    assert.deepEqual(a.structure.numbers, b.structure.numbers);
  }
  const other = syntheticCrystals({ count: 5, seed: 43 });
  assert.notDeepEqual(other.get(0).structure.frac, entries[0].structure.frac);
  assert.equal(data.source, `synthetic:${N}`);
  assert.deepEqual(data.skipped, []);
  assert.equal(data.length, N);
  assert.throws(() => data.get(N), /outside/);
  const uncached = syntheticCrystals({ count: 3, seed: 42, cache: false });
  assert.deepEqual(uncached.get(2).structure.frac, entries[2].structure.frac);
});

Deno.test("variety: all lattice systems, 1–4 species, 2–24 atoms, many elements", () => {
  const systems = new Map<string, number>();
  const speciesCounts = new Set<number>();
  const elements = new Set<number>();
  let minAtoms = Infinity, maxAtoms = 0, exactCubic = 0;
  for (const { structure: s } of entries) {
    systems.set(system(s), (systems.get(system(s)) ?? 0) + 1);
    const species = new Set(s.numbers);
    speciesCounts.add(species.size);
    species.forEach((z) => elements.add(z));
    minAtoms = Math.min(minAtoms, s.numbers.length);
    maxAtoms = Math.max(maxAtoms, s.numbers.length);
    // Exact high-symmetry prototypes: cubic cell, all coordinates on the quarter grid.
    if (system(s) === "cubic" && s.frac.every((x) => Number.isInteger(4 * x))) exactCubic++;
  }
  for (
    const name of ["cubic", "tetragonal", "orthorhombic", "hexagonal", "monoclinic", "triclinic"]
  ) {
    assert.ok((systems.get(name) ?? 0) >= N * 0.04, `${name}: ${systems.get(name) ?? 0} of ${N}`);
  }
  assert.deepEqual([...speciesCounts].sort(), [1, 2, 3, 4]);
  assert.equal(minAtoms, 2);
  assert.ok(maxAtoms >= 22 && maxAtoms <= 24, `max atoms ${maxAtoms}`);
  assert.ok(elements.size >= 28, `${elements.size} elements used`);
  assert.ok(SYNTHETIC_ELEMENTS.length >= 30);
  assert.ok(exactCubic >= N * 0.15, `${exactCubic} exact cubic prototypes`);
});

Deno.test("minimum interatomic distance respected over all periodic images", () => {
  for (const { structure: s } of entries) {
    const nl = neighborList(s, { radius: 3.6, maxNeighbors: Infinity, allowIsolated: true });
    for (let i = 0; i < s.numbers.length; i++) {
      for (let e = nl.offsets[i]; e < nl.offsets[i + 1]; e++) {
        const d = nl.distances[e];
        const zi = s.numbers[i], zj = s.numbers[nl.neighbors[e]];
        assert.ok(d >= 1 - 1e-9, `${s.id}: ${d} Å`);
        assert.ok(d >= syntheticMinDistance(zi, zj) - 1e-9, `${s.id}: ${d} Å for ${zi}-${zj}`);
      }
    }
    // Every atom has neighbours for the CGCNN graph (radius 8 Å).
    neighborList(s);
  }
});

Deno.test("targets: finite, formation-energy-like range, spread out", () => {
  const y = entries.map((e) => e.target);
  assert.ok(y.every(Number.isFinite));
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const sd = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length);
  assert.ok(
    Math.min(...y) > -6 && Math.max(...y) < 3,
    `range ${Math.min(...y)} … ${Math.max(...y)}`,
  );
  assert.ok(sd > 0.3, `sd ${sd}`);
  assert.ok(y.filter((v) => v < -1).length > N * 0.05 && y.filter((v) => v > 0).length > N * 0.02);
  // The stored target is syntheticEnergy of the stored structure.
  assert.equal(syntheticEnergy(entries[7].structure), entries[7].target);
});

function box(numbers: number[], cart: number[][], a = 30): Structure {
  return {
    id: "box",
    lattice: latticeFromParameters(a, a, a, 90, 90, 90),
    frac: Float64Array.from(cart.flat().map((x) => x / a + 0.5)),
    numbers: Int32Array.from(numbers),
  };
}

Deno.test("pair term: a Na–Cl dimer gives φ/2 per atom from the documented formula", () => {
  const d = 2.5, r0 = 1.66 + 1.02, dchi = 0.93 - 3.16;
  const depth = 0.04 + 0.8 * (1 - Math.exp(-dchi * dchi));
  const phi = depth * ((1 - Math.exp((-4 / r0) * (d - r0))) ** 2 - 1);
  const e = syntheticEnergy(box([11, 17], [[0, 0, 0], [d, 0, 0]]));
  assert.ok(Math.abs(e - phi / 2) < 1e-12, `${e} vs ${phi / 2}`);
});

Deno.test("three-body term: same pair distances, different angle → different target", () => {
  // La–La bonds of 4.5 Å at the centre; the outer two atoms are > 6 Å apart at both angles,
  // beyond the pair cut-off, so only the angle at the centre differs.
  const d = 4.5, r0 = 2 * 2.07;
  const at = (deg: number) => {
    const t = (deg * Math.PI) / 180;
    return box([57, 57, 57], [[0, 0, 0], [d, 0, 0], [d * Math.cos(t), d * Math.sin(t), 0]]);
  };
  const [s1, s2] = [at(100), at(150)];
  const pair1 = syntheticEnergy(s1, { angular: 0 }), pair2 = syntheticEnergy(s2, { angular: 0 });
  assert.ok(Math.abs(pair1 - pair2) < 1e-12, "pair terms must agree");
  const w = Math.exp(-((d / r0 - 1) ** 2) / (2 * 0.15 ** 2));
  const three = (deg: number) =>
    (0.25 * w * w * Math.cos((deg * Math.PI) / 180) ** 2) / (1 + 2 * w) / 3;
  const diff = syntheticEnergy(s1) - syntheticEnergy(s2);
  assert.ok(Math.abs(diff) > 1e-3);
  assert.ok(Math.abs(diff - (three(100) - three(150))) < 1e-12, `${diff}`);
});

Deno.test("three-body term matters across the data set", () => {
  let changed = 0;
  for (const { structure: s, target } of entries.slice(0, 100)) {
    if (Math.abs(syntheticEnergy(s, { angular: 0 }) - target) > 1e-3) changed++;
  }
  assert.ok(changed > 80, `${changed} of 100 changed`);
});
