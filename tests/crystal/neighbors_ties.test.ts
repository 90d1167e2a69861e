/**
 * Tied last neighbour shells: the three `ties` modes against a plain brute-force reference
 * that follows the documented rule with the same float64 arithmetic (so `"truncate"`, the
 * graphs of CGCNN's rule and of every earlier version, must match bit for bit), and the
 * permutation invariance that keeping or dropping the whole shell buys.
 */

import assert from "node:assert/strict";
import { cartesian, latticeFromParameters } from "../../lib/crystal/lattice.ts";
import { neighborList, type NeighborTies } from "../../lib/crystal/neighbors.ts";
import type { NeighborList, Structure } from "../../lib/crystal/types.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { Rng } from "../../lib/util/random.ts";

const GRID = 2 ** 26;

/**
 * Reference: every image in ±`range` per axis, vector ((x_j − x_i) + ka·a) + kb·b + kc·c,
 * sorted by (round(d²·2²⁶), j, ka, kb, kc); the first `cap`, then the tie rule.
 */
function reference(s: Structure, radius: number, cap: number, ties: NeighborTies, range = 4) {
  const X = cartesian(s), L = s.lattice, n = s.numbers.length;
  const out: { j: number; d: number; v: number[] }[][] = [];
  for (let i = 0; i < n; i++) {
    const c: { q: number; key: number[]; d2: number; j: number; v: number[] }[] = [];
    for (let j = 0; j < n; j++) {
      const dx = X[3 * j] - X[3 * i], dy = X[3 * j + 1] - X[3 * i + 1];
      const dz = X[3 * j + 2] - X[3 * i + 2];
      for (let ka = -range; ka <= range; ka++) {
        for (let kb = -range; kb <= range; kb++) {
          for (let kc = -range; kc <= range; kc++) {
            if (i === j && ka === 0 && kb === 0 && kc === 0) continue;
            const vx = dx + ka * L[0] + kb * L[3] + kc * L[6];
            const vy = dy + ka * L[1] + kb * L[4] + kc * L[7];
            const vz = dz + ka * L[2] + kb * L[5] + kc * L[8];
            const d2 = vx * vx + vy * vy + vz * vz;
            if (d2 > radius * radius) continue;
            c.push({ q: Math.round(d2 * GRID), key: [j, ka, kb, kc], d2, j, v: [vx, vy, vz] });
          }
        }
      }
    }
    const byKey = (x: number[], y: number[]) => {
      for (let k = 0; k < 4; k++) if (x[k] !== y[k]) return x[k] - y[k];
      return 0;
    };
    c.sort((a, b) => a.q - b.q || byKey(a.key, b.key));
    let kept = c.slice(0, cap);
    if (ties !== "truncate" && c.length > cap && c[cap].q === c[cap - 1].q) {
      const qLast = c[cap - 1].q;
      const shell = c.filter((e) => e.q <= qLast);
      const inner = c.filter((e) => e.q < qLast);
      kept = ties === "include" || inner.length === 0 ? shell : inner;
    }
    out.push(kept.map((e) => ({ j: e.j, d: Math.sqrt(e.d2), v: e.v })));
  }
  return out;
}

function assertSameAsReference(s: Structure, ties: NeighborTies, radius = 8, cap = 12) {
  const ref = reference(s, radius, cap, ties);
  const nl = neighborList(s, { radius, maxNeighbors: cap, ties });
  for (let i = 0; i < ref.length; i++) {
    const lo = nl.offsets[i], hi = nl.offsets[i + 1];
    assert.equal(hi - lo, ref[i].length, `${s.id} (${ties}) atom ${i}: edge count`);
    for (let e = 0; e < ref[i].length; e++) {
      const r = ref[i][e];
      // bit for bit: strict equality of every float64
      assert.equal(nl.neighbors[lo + e], r.j, `${s.id} (${ties}) atom ${i} edge ${e}: j`);
      assert.equal(nl.distances[lo + e], r.d, `${s.id} (${ties}) atom ${i} edge ${e}: d`);
      for (let k = 0; k < 3; k++) {
        assert.equal(nl.vectors[3 * (lo + e) + k], r.v[k], `${s.id} atom ${i} edge ${e}: v`);
      }
    }
  }
}

/** Cubic cells with a tie at the 12th neighbour (real-like: decimal CIF lattice constants). */
function cubicCells(): Structure[] {
  const cell = (id: string, a: number, frac: number[], numbers: number[]): Structure => ({
    id,
    lattice: latticeFromParameters(a, a, a, 90, 90, 90),
    frac: Float64Array.from(frac),
    numbers: Int32Array.from(numbers),
  });
  return [
    // SrTiO3 perovskite: Ti has 6 O, 8 Sr, then 6 Ti at a: 12th neighbour inside the Sr shell.
    cell("SrTiO3", 3.905, [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5], [
      38,
      22,
      8,
      8,
      8,
    ]),
    // bcc Fe (conventional): 8 at √3a/2, then 6 at a: the 12th is inside the second shell.
    cell("Fe-bcc", 2.8665, [0, 0, 0, 0.5, 0.5, 0.5], [26, 26]),
    // rock salt NaCl (conventional, 8 atoms): 6, then 12: the 12th is inside the second shell.
    cell("NaCl", 5.6402, [
      0,
      0,
      0,
      0.5,
      0.5,
      0,
      0.5,
      0,
      0.5,
      0,
      0.5,
      0.5,
      0.5,
      0,
      0,
      0,
      0.5,
      0,
      0,
      0,
      0.5,
      0.5,
      0.5,
      0.5,
    ], [11, 11, 11, 11, 17, 17, 17, 17]),
    // diamond (conventional, 8 atoms): 4, then 12: the 12th is inside the second shell.
    cell("C-diamond", 3.5667, [
      0,
      0,
      0,
      0.5,
      0.5,
      0,
      0.5,
      0,
      0.5,
      0,
      0.5,
      0.5,
      0.25,
      0.25,
      0.25,
      0.75,
      0.75,
      0.25,
      0.75,
      0.25,
      0.75,
      0.25,
      0.75,
      0.75,
    ], [6, 6, 6, 6, 6, 6, 6, 6]),
  ];
}

function permuted(s: Structure, p: Int32Array): Structure {
  const n = p.length;
  const frac = new Float64Array(3 * n), numbers = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    numbers[i] = s.numbers[p[i]];
    for (let k = 0; k < 3; k++) frac[3 * i + k] = s.frac[3 * p[i] + k];
  }
  return { ...s, frac, numbers };
}

/** Per atom, the sorted multiset of (original neighbour index, vector rounded to 1e-9). */
function canonicalGraph(nl: NeighborList, toOriginal: (j: number) => number): string[][] {
  const out: string[][] = [];
  for (let a = 0; a < nl.offsets.length - 1; a++) {
    const row: string[] = [];
    for (let e = nl.offsets[a]; e < nl.offsets[a + 1]; e++) {
      const v = [0, 1, 2].map((k) => Math.round(nl.vectors[3 * e + k] * 1e9) / 1e9);
      row.push(`${toOriginal(nl.neighbors[e])}:${v.join(",")}`);
    }
    out.push(row.sort());
  }
  return out;
}

Deno.test('ties "truncate" reproduces the previous graphs (CGCNN rule) bit for bit', () => {
  const syn = syntheticCrystals({ count: 40, seed: 5 });
  const cells = [...cubicCells()];
  for (let i = 0; i < syn.length; i++) cells.push(syn.get(i).structure);
  for (const s of cells) assertSameAsReference(s, "truncate");
});

Deno.test('ties "include" and "drop" follow the shell rule; "include" extends "truncate"', () => {
  const syn = syntheticCrystals({ count: 40, seed: 5 });
  const cells = [...cubicCells()];
  for (let i = 0; i < syn.length; i++) cells.push(syn.get(i).structure);
  let extended = 0;
  for (const s of cells) {
    assertSameAsReference(s, "include");
    assertSameAsReference(s, "drop");
    const a = neighborList(s, { ties: "truncate" }), b = neighborList(s);
    for (let i = 0; i < s.numbers.length; i++) {
      const na = a.offsets[i + 1] - a.offsets[i], nb = b.offsets[i + 1] - b.offsets[i];
      assert.ok(nb >= na);
      if (nb > na) extended++;
      for (let e = 0; e < na; e++) {
        assert.equal(b.neighbors[b.offsets[i] + e], a.neighbors[a.offsets[i] + e]);
        assert.equal(b.distances[b.offsets[i] + e], a.distances[a.offsets[i] + e]);
      }
    }
  }
  assert.ok(extended > 0, "no tied shell among the test cells");
});

Deno.test("tied cubic cells: counts of the kept shells", () => {
  const [srtio3, bcc, nacl, diamond] = cubicCells();
  const counts = (s: Structure, ties: NeighborTies) => {
    const nl = neighborList(s, { ties });
    return Array.from({ length: s.numbers.length }, (_, i) => nl.offsets[i + 1] - nl.offsets[i]);
  };
  assert.deepEqual(counts(bcc, "include"), [14, 14]); // 8 + 6
  assert.deepEqual(counts(bcc, "drop"), [8, 8]);
  assert.deepEqual(counts(nacl, "include"), Array(8).fill(18)); // 6 + 12
  assert.deepEqual(counts(diamond, "include"), Array(8).fill(16)); // 4 + 12
  assert.deepEqual(counts(diamond, "drop"), Array(8).fill(4));
  assert.equal(counts(srtio3, "truncate").every((c) => c === 12), true);
});

Deno.test("permutation invariance of the graph on tied cubic cells (include, drop; not truncate)", () => {
  const rng = new Rng(12);
  let truncateChanged = 0;
  for (const s of cubicCells()) {
    for (let trial = 0; trial < 6; trial++) {
      const p = Int32Array.from({ length: s.numbers.length }, (_, i) => i);
      rng.shuffle(p);
      const t = permuted(s, p);
      for (const ties of ["include", "drop", "truncate"] as const) {
        const g0 = canonicalGraph(neighborList(s, { ties }), (j) => j);
        const nl1 = neighborList(t, { ties });
        // atom a of t is atom p[a] of s: compare rows in the original order
        const g1raw = canonicalGraph(nl1, (j) => p[j]);
        const g1: string[][] = new Array(g1raw.length);
        for (let a = 0; a < p.length; a++) g1[p[a]] = g1raw[a];
        if (ties === "truncate") {
          if (JSON.stringify(g0) !== JSON.stringify(g1)) truncateChanged++;
        } else assert.deepEqual(g1, g0, `${s.id} (${ties}) permutation ${p}`);
      }
    }
  }
  // The check has teeth: CGCNN's truncation keeps a different subset of the tied shell.
  assert.ok(truncateChanged > 0, "truncate never changed under permutation");
});

Deno.test("bad ties option is rejected", () => {
  const [, bcc] = cubicCells();
  assert.throws(
    () => neighborList(bcc, { ties: "some" as NeighborTies }),
    /Fe-bcc: neighbour ties must be include\|drop\|truncate/,
  );
});
