/**
 * Synthetic crystals: the embedded default data set, deterministic for a seed.
 *
 * Structures: 30% exact cubic prototypes (rock salt, CsCl, perovskite ABX₃, fluorite AB₂,
 * zinc blende, bcc, fcc: high symmetry, so their PCA covariance is degenerate) and 70%
 * random cells (cubic, tetragonal, orthorhombic, hexagonal, monoclinic, triclinic) with 2–24
 * atoms of 1–4 species drawn from 32 elements, placed uniformly at random with periodic
 * minimum-distance rejection (d_ij ≥ max(1 Å, 0.8 (r_i + r_j))).
 *
 * Target, a formation-energy-like value in eV/atom (roughly −4 … +1):
 *
 *   E = (1/N) Σ_i [ ½ Σ_{j,images} φ_ij(d_ij) + A_i ]
 *
 * Pair term (Morse well, sum over all periodic images within 6 Å, smooth taper over 5–6 Å):
 *   φ_ij(d) = D_ij [ (1 − exp(−α_ij (d − r⁰_ij)))² − 1 ] · f_c(d),
 *   r⁰_ij = r_i + r_j,  α_ij = 4 / r⁰_ij,  D_ij = 0.04 + 0.8 (1 − exp(−(χ_i − χ_j)²)),
 *   f_c(d) = 1 for d ≤ 5, ½ (1 + cos π(d − 5)) for 5 < d < 6, 0 beyond,
 * with r_i a covalent-radius-like size (Å) and χ_i an electronegativity-like constant defined
 * below: unlike species with different χ bind strongly (ionic-like), like species weakly, and
 * compressed pairs are repulsive.
 *
 * Three-body angular term (bonded neighbours only), for centre i and neighbour pairs j < k:
 *   A_i = λ_i Σ_{j<k} w_ij w_ik (cos θ_jik − c_i)² / (1 + Σ_j w_ij),
 *   w_ij = exp(−(d_ij / r⁰_ij − 1)² / (2 · 0.15²)) · f_w(d_ij),  f_w a smooth cosine cut-off
 *   from 1.45 r⁰_ij to 1.6 r⁰_ij (neighbours searched to max(6 Å, 1.6 r⁰) so none is missed),
 * where c_i = −1/3 (tetrahedral, λ_i = 0.8) for the covalent-network elements B, C, N, Si, P,
 * S, Zn, Ga, Ge, Se, Sn and c_i = 0 (right angles, λ_i = 0.25) for the rest. θ_jik is the
 * angle at i between the periodic images of j and k: the target depends on geometry beyond
 * the distances that CGCNN sees.
 * @module
 */

import { latticeFromParameters, latticeHeights } from "../crystal/lattice.ts";
import { neighborList } from "../crystal/neighbors.ts";
import { Rng } from "../util/random.ts";
import { atomicNumber } from "../crystal/symbols.ts";
import type { Dataset, DatasetEntry, Structure } from "../crystal/types.ts";

/** Per-element constants: [symbol, χ (electronegativity-like), r (Å, covalent-like)]. */
const ELEMENTS: readonly [string, number, number][] = [
  ["Li", 0.98, 1.28],
  ["B", 2.04, 0.84],
  ["C", 2.55, 0.76],
  ["N", 3.04, 0.71],
  ["O", 3.44, 0.66],
  ["F", 3.98, 0.57],
  ["Na", 0.93, 1.66],
  ["Mg", 1.31, 1.41],
  ["Al", 1.61, 1.21],
  ["Si", 1.9, 1.11],
  ["P", 2.19, 1.07],
  ["S", 2.58, 1.05],
  ["Cl", 3.16, 1.02],
  ["K", 0.82, 2.03],
  ["Ca", 1.0, 1.76],
  ["Ti", 1.54, 1.6],
  ["Mn", 1.55, 1.39],
  ["Fe", 1.83, 1.32],
  ["Co", 1.88, 1.26],
  ["Ni", 1.91, 1.24],
  ["Cu", 1.9, 1.32],
  ["Zn", 1.65, 1.22],
  ["Ga", 1.81, 1.22],
  ["Ge", 2.01, 1.2],
  ["Se", 2.55, 1.2],
  ["Br", 2.96, 1.2],
  ["Sr", 0.95, 1.95],
  ["Zr", 1.33, 1.75],
  ["Sn", 1.96, 1.39],
  ["Ba", 0.89, 2.15],
  ["La", 1.1, 2.07],
  ["Y", 1.22, 1.9],
];
const TETRAHEDRAL = new Set(["B", "C", "N", "Si", "P", "S", "Zn", "Ga", "Ge", "Se", "Sn"]);

/** Atomic numbers of the elements the generator draws from. */
export const SYNTHETIC_ELEMENTS: readonly number[] = ELEMENTS.map(([s]) => atomicNumber(s));

// Constants indexed by atomic number.
const CHI = new Float64Array(119), RADIUS = new Float64Array(119);
const LAMBDA = new Float64Array(119), COS0 = new Float64Array(119);
for (const [s, chi, r] of ELEMENTS) {
  const z = atomicNumber(s);
  CHI[z] = chi, RADIUS[z] = r;
  LAMBDA[z] = TETRAHEDRAL.has(s) ? 0.8 : 0.25;
  COS0[z] = TETRAHEDRAL.has(s) ? -1 / 3 : 0;
}

const PAIR_CUTOFF = 6;

/** Smallest distance (Å) allowed between atoms of atomic numbers zi and zj. */
export function syntheticMinDistance(zi: number, zj: number): number {
  return Math.max(1, 0.8 * (RADIUS[zi] + RADIUS[zj]));
}

function taper(x: number, lo: number, hi: number): number {
  return x <= lo ? 1 : x >= hi ? 0 : 0.5 * (1 + Math.cos((Math.PI * (x - lo)) / (hi - lo)));
}

/**
 * The synthetic target (eV/atom) of a structure of the generator's elements, formula in the
 * module documentation. `angular` scales the three-body term (default 1; 0 leaves the pair
 * term only).
 */
export function syntheticEnergy(s: Structure, options: { angular?: number } = {}): number {
  const angular = options.angular ?? 1;
  const n = s.numbers.length;
  for (const z of s.numbers) {
    if (!(RADIUS[z] > 0)) {
      throw new RangeError(`${s.id}: element Z=${z} has no synthetic constants`);
    }
  }
  // Bonded shells of large atoms (1.6 r⁰ up to 6.9 Å) may reach beyond the pair cut-off.
  let rmax = 0;
  for (const z of s.numbers) rmax = Math.max(rmax, RADIUS[z]);
  const radius = Math.max(PAIR_CUTOFF, 1.6 * 2 * rmax);
  const nl = neighborList(s, { radius, maxNeighbors: Infinity, allowIsolated: true });
  const { offsets, neighbors, distances: d, vectors: v } = nl;
  let total = 0;
  const w = new Float64Array(d.length);
  for (let i = 0; i < n; i++) {
    const zi = s.numbers[i];
    let pair = 0, wsum = 0;
    for (let e = offsets[i]; e < offsets[i + 1]; e++) {
      const zj = s.numbers[neighbors[e]];
      const r0 = RADIUS[zi] + RADIUS[zj], dchi = CHI[zi] - CHI[zj];
      const depth = 0.04 + 0.8 * (1 - Math.exp(-dchi * dchi));
      const m = 1 - Math.exp((-4 / r0) * (d[e] - r0));
      pair += depth * (m * m - 1) * taper(d[e], PAIR_CUTOFF - 1, PAIR_CUTOFF);
      const x = d[e] / r0 - 1;
      w[e] = Math.exp((-x * x) / (2 * 0.15 * 0.15)) * taper(d[e] / r0, 1.45, 1.6);
      wsum += w[e];
    }
    let three = 0;
    if (angular !== 0) {
      for (let e = offsets[i]; e < offsets[i + 1]; e++) {
        if (w[e] < 1e-12) continue;
        for (let f = e + 1; f < offsets[i + 1]; f++) {
          if (w[f] < 1e-12) continue;
          const cos =
            (v[3 * e] * v[3 * f] + v[3 * e + 1] * v[3 * f + 1] + v[3 * e + 2] * v[3 * f + 2]) /
            (d[e] * d[f]);
          const g = cos - COS0[zi];
          three += w[e] * w[f] * g * g;
        }
      }
      three *= (angular * LAMBDA[zi]) / (1 + wsum);
    }
    total += 0.5 * pair + three;
  }
  return total / n;
}

// ------------------------------------------------------------------ generation

type Builder = (rng: Rng) => { cell: number[]; frac: number[]; numbers: number[] };

const FCC = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]];
const shift = (pts: number[][], t: number[]) => pts.map((p) => p.map((x, c) => (x + t[c]) % 1));
const cubic = (a: number) => [a, a, a, 90, 90, 90];
const pickDistinct = (rng: Rng, k: number) => {
  const pool = rng.shuffle([...SYNTHETIC_ELEMENTS]);
  return pool.slice(0, k);
};
const sizeScale = (rng: Rng) => rng.uniform(0.96, 1.1);

function prototype(sites: number[][][], a: number, species: number[]) {
  const frac: number[] = [], numbers: number[] = [];
  sites.forEach((pts, k) => pts.forEach((p) => (frac.push(...p), numbers.push(species[k]))));
  return { cell: cubic(a), frac, numbers };
}

const R = (z: number) => RADIUS[z];
const CORNERS = [0.25, 0.75].flatMap((x) =>
  [0.25, 0.75].flatMap((y) => [0.25, 0.75].map((z) => [x, y, z]))
);

const PROTOTYPES: Builder[] = [
  (rng) => { // rock salt
    const [p, q] = pickDistinct(rng, 2);
    return prototype([FCC, shift(FCC, [0.5, 0.5, 0.5])], 2 * (R(p) + R(q)) * sizeScale(rng), [
      p,
      q,
    ]);
  },
  (rng) => { // CsCl
    const [p, q] = pickDistinct(rng, 2);
    const a = (2 * (R(p) + R(q)) / Math.sqrt(3)) * sizeScale(rng);
    return prototype([[[0, 0, 0]], [[0.5, 0.5, 0.5]]], a, [p, q]);
  },
  (rng) => { // perovskite ABX3
    const [p, q, x] = pickDistinct(rng, 3);
    const face = [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]];
    return prototype([[[0, 0, 0]], [[0.5, 0.5, 0.5]], face], 2 * (R(q) + R(x)) * sizeScale(rng), [
      p,
      q,
      x,
    ]);
  },
  (rng) => { // fluorite AB2
    const [p, q] = pickDistinct(rng, 2);
    return prototype([FCC, CORNERS], (4 * (R(p) + R(q)) / Math.sqrt(3)) * sizeScale(rng), [p, q]);
  },
  (rng) => { // zinc blende
    const [p, q] = pickDistinct(rng, 2);
    const a = (4 * (R(p) + R(q)) / Math.sqrt(3)) * sizeScale(rng);
    return prototype([FCC, shift(FCC, [0.25, 0.25, 0.25])], a, [p, q]);
  },
  (rng) => { // bcc element
    const [p] = pickDistinct(rng, 1);
    return prototype([[[0, 0, 0], [0.5, 0.5, 0.5]]], (4 * R(p) / Math.sqrt(3)) * sizeScale(rng), [
      p,
    ]);
  },
  (rng) => { // fcc element
    const [p] = pickDistinct(rng, 1);
    return prototype([FCC], 2 * Math.SQRT2 * R(p) * sizeScale(rng), [p]);
  },
];

/** Lattice systems of the random cells, as shape generators (lengths relative to a = 1). */
const SYSTEMS: ((rng: Rng) => number[])[] = [
  () => [1, 1, 1, 90, 90, 90],
  (rng) => [1, 1, rng.uniform(0.6, 1.6), 90, 90, 90],
  (rng) => [1, rng.uniform(0.65, 1.5), rng.uniform(0.65, 1.5), 90, 90, 90],
  (rng) => [1, 1, rng.uniform(0.8, 1.8), 90, 90, 120],
  (rng) => [1, rng.uniform(0.7, 1.4), rng.uniform(0.7, 1.4), 90, rng.uniform(95, 122), 90],
  (
    rng,
  ) => [
    1,
    rng.uniform(0.7, 1.4),
    rng.uniform(0.7, 1.4),
    ...[0, 1, 2].map(() => rng.uniform(72, 112)),
  ],
];

/**
 * True when atom `a` of `frac` and the point g are at least √thr2 apart over the 27 images
 * around the wrapped offset (exact while √thr2 is below the smallest lattice height).
 */
function apart(l: Float64Array, frac: number[], a: number, g: number[], thr2: number): boolean {
  let u0 = g[0] - frac[3 * a], u1 = g[1] - frac[3 * a + 1], u2 = g[2] - frac[3 * a + 2];
  u0 -= Math.round(u0), u1 -= Math.round(u1), u2 -= Math.round(u2);
  for (let i = -1; i <= 1; i++) {
    const p = u0 + i;
    for (let j = -1; j <= 1; j++) {
      const q = u1 + j;
      for (let k = -1; k <= 1; k++) {
        const r = u2 + k;
        const x = p * l[0] + q * l[3] + r * l[6], y = p * l[1] + q * l[4] + r * l[7];
        const z = p * l[2] + q * l[5] + r * l[8];
        if (x * x + y * y + z * z < thr2) return false;
      }
    }
  }
  return true;
}

function randomCrystal(rng: Rng) {
  const n = 2 + rng.int(23);
  const k = Math.min(n, rng.pick([1, 2, 2, 3, 3, 3, 4, 4]));
  const species = pickDistinct(rng, k);
  const numbers = species.concat(Array.from({ length: n - k }, () => rng.pick(species)));
  rng.shuffle(numbers);
  let maxThr = 0, sphereVol = 0;
  for (const z of numbers) {
    maxThr = Math.max(maxThr, syntheticMinDistance(z, z));
    sphereVol += (4 / 3) * Math.PI * R(z) ** 3;
  }
  const shape = rng.pick(SYSTEMS)(rng);
  let volume = sphereVol / rng.uniform(0.3, 0.5);
  for (;;) {
    const unit = latticeFromParameters(shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]);
    const s = Math.cbrt(volume / Math.abs(unitVolume(unit)));
    const cell = [shape[0] * s, shape[1] * s, shape[2] * s, shape[3], shape[4], shape[5]];
    const l = latticeFromParameters(cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]);
    if (Math.min(...latticeHeights(l)) < maxThr * 1.05) {
      volume *= 1.15; // a flat cell would put atoms next to their own images
      continue;
    }
    const frac = place(rng, l, numbers);
    if (frac) return { cell, frac, numbers };
    volume *= 1.15; // too crowded: retry in a larger cell
  }
}

function unitVolume(l: Float64Array): number {
  return l[0] * (l[4] * l[8] - l[5] * l[7]) - l[1] * (l[3] * l[8] - l[5] * l[6]) +
    l[2] * (l[3] * l[7] - l[4] * l[6]);
}

function place(rng: Rng, l: Float64Array, numbers: number[]): number[] | undefined {
  const frac: number[] = [];
  const g = [0, 0, 0];
  for (let i = 0; i < numbers.length; i++) {
    let ok = false;
    for (let attempt = 0; attempt < 60 && !ok; attempt++) {
      g[0] = rng.next(), g[1] = rng.next(), g[2] = rng.next();
      ok = true;
      for (let a = 0; a < i && ok; a++) {
        const thr = syntheticMinDistance(numbers[i], numbers[a]);
        ok = apart(l, frac, a, g, thr * thr);
      }
    }
    if (!ok) return undefined;
    frac.push(g[0], g[1], g[2]);
  }
  return frac;
}

/** Scales a prototype's cell up until every pair respects the minimum distance. */
function respectMinDistance(cell: number[], frac: number[], numbers: number[]): void {
  const l = latticeFromParameters(cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]);
  let scale = 1;
  for (let i = 0; i < numbers.length; i++) {
    const g = frac.slice(3 * i, 3 * i + 3);
    for (let a = 0; a <= i; a++) {
      const thr = syntheticMinDistance(numbers[i], numbers[a]);
      // The atom's own images sit at lattice vectors (cubic cell: the edge is the shortest).
      if (a === i) scale = Math.max(scale, thr / Math.min(cell[0], cell[1], cell[2]));
      // Grow in small steps until the pair is far enough apart (prototype cells are cubic,
      // so the 27-image test is exact).
      else while (!apart(l.map((x) => x * scale), frac, a, g, thr * thr)) scale *= 1.02;
    }
  }
  for (let c = 0; c < 3; c++) cell[c] *= scale;
}

function generate(seed: number, index: number): DatasetEntry {
  const rng = new Rng(seed, index);
  let c: { cell: number[]; frac: number[]; numbers: number[] };
  if (rng.next() < 0.3) {
    c = rng.pick(PROTOTYPES)(rng);
    respectMinDistance(c.cell, c.frac, c.numbers);
  } else {
    c = randomCrystal(rng);
  }
  const id = `synthetic-${seed}-${index}`;
  const structure: Structure = {
    id,
    lattice: latticeFromParameters(
      c.cell[0],
      c.cell[1],
      c.cell[2],
      c.cell[3],
      c.cell[4],
      c.cell[5],
    ),
    frac: Float64Array.from(c.frac),
    numbers: Int32Array.from(c.numbers),
  };
  return { id, structure, target: syntheticEnergy(structure) };
}

/**
 * `count` synthetic crystals with a formation-energy-like target (see the module
 * documentation), deterministic for `seed`. Crystal i is generated on first `get(i)` from its
 * own random stream (so it does not depend on the other indices or on access order) and then
 * kept; `cache: false` regenerates on every call instead (for very large counts).
 * `skipped` is empty; `source` is `synthetic:<count>`.
 *
 * @example
 * ```ts
 * import { syntheticCrystals } from "@facgcnn/toolkit";
 * const data = syntheticCrystals({ count: 1000, seed: 0 });
 * const { id, structure, target } = data.get(0); // generated on first access, then cached
 * console.log(id, structure.numbers.length, target);
 * ```
 */
export function syntheticCrystals(
  options: { count: number; seed: number; cache?: boolean },
): Dataset {
  const { count, seed } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`synthetic count must be a non-negative integer, got ${count}`);
  }
  if (!Number.isFinite(seed)) throw new RangeError(`synthetic seed must be finite, got ${seed}`);
  const cache: (DatasetEntry | undefined)[] | undefined = options.cache === false
    ? undefined
    : new Array(count);
  return {
    length: count,
    skipped: [],
    source: `synthetic:${count}`,
    get(i: number): DatasetEntry {
      if (!Number.isInteger(i) || i < 0 || i >= count) {
        throw new RangeError(`synthetic index ${i} outside 0..${count - 1}`);
      }
      if (!cache) return generate(seed, i);
      return cache[i] ??= generate(seed, i);
    },
  };
}
