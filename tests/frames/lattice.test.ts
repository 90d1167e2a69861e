import assert from "node:assert/strict";
import { latticeFrames } from "../../lib/frames/lattice.ts";
import {
  det3,
  gaussian,
  matmul3,
  randomOrthogonal,
  randomPermutation,
  seededRng,
  transformRows,
  transpose3,
} from "./_helpers.ts";

/** A random, reasonably shaped cell: lengths 3–12 Å with random shear and orientation. */
function randomLattice(rng: () => number): number[] {
  const base = [
    3 + 9 * rng(),
    0,
    0,
    gaussian(rng),
    3 + 9 * rng(),
    0,
    gaussian(rng),
    gaussian(rng),
    3 + 9 * rng(),
  ];
  return matmul3(base, randomOrthogonal(rng, rng() < 0.5));
}

function mean(x: Float64Array): number[] {
  const t = [0, 0, 0];
  for (let i = 0; i < x.length / 3; i++) for (let j = 0; j < 3; j++) t[j] += x[3 * i + j];
  return t.map((v) => v / (x.length / 3));
}

Deno.test("lattice: U is orthogonal and L·U is symmetric positive definite (polar factor)", () => {
  const rng = seededRng(20);
  const n = 200;
  const lats = Array.from({ length: n }, () => randomLattice(rng));
  // include an extreme slab (c ≫ a) and a left-handed cell
  lats.push([2.5, 0, 0, 0, 2.5, 0, 0.3, 0.1, 60]);
  lats.push([0, 4, 0, 4, 0, 0, 0, 0, 5]);
  const U = latticeFrames(new Float64Array(lats.flat()), lats.length);
  lats.forEach((L, c) => {
    const u = U.subarray(9 * c, 9 * c + 9);
    const utu = matmul3(transpose3(u), u);
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(utu[i] - (i % 4 === 0 ? 1 : 0)) < 1e-13);
    assert.equal(Math.sign(det3(u)), Math.sign(det3(L)), "det U = sign det L");
    const P = matmul3(L, u);
    const scale = Math.max(...L.map(Math.abs));
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < i; j++) assert.ok(Math.abs(P[3 * i + j] - P[3 * j + i]) < 1e-12 * scale);
    }
    // positive definite: leading principal minors > 0
    assert.ok(P[0] > 0 && P[0] * P[4] - P[1] * P[3] > 0 && det3(P) > 0, `P not SPD: ${P}`);
  });
});

Deno.test("lattice: x̃ = (x − t)·U invariant under O(3) + translation + permutation", () => {
  const rng = seededRng(21);
  let rawMax = 0;
  for (let trial = 0; trial < 100; trial++) {
    const L = randomLattice(rng);
    const nAtoms = 1 + Math.floor(rng() * 12);
    const frac = new Float64Array(3 * nAtoms).map(() => rng());
    const x = transformRows(frac, L);
    const R = randomOrthogonal(rng, trial % 2 === 1);
    const shift = [gaussian(rng) * 4, gaussian(rng) * 4, gaussian(rng) * 4];
    const moved = transformRows(x, R, shift);
    const p = randomPermutation(nAtoms, rng);
    const y = new Float64Array(3 * nAtoms);
    for (let i = 0; i < nAtoms; i++) y.set(moved.subarray(3 * p[i], 3 * p[i] + 3), 3 * i);
    const LR = matmul3(L, R);
    const U = latticeFrames(new Float64Array([...L, ...LR]), 2);
    const ua = U.subarray(0, 9), ub = U.subarray(9, 18);
    const ta = mean(x), tb = mean(y);
    for (let i = 0; i < nAtoms; i++) {
      for (let k = 0; k < 3; k++) {
        let a = 0, b = 0;
        for (let j = 0; j < 3; j++) {
          a += (x[3 * p[i] + j] - ta[j]) * ua[3 * j + k];
          b += (y[3 * i + j] - tb[j]) * ub[3 * j + k];
        }
        const raw = Math.abs((x[3 * p[i] + k] - ta[k]) - (y[3 * i + k] - tb[k]));
        assert.ok(Math.abs(a - b) < 1e-9, `trial ${trial}: ${a} vs ${b}`);
        rawMax = Math.max(rawMax, raw);
      }
    }
  }
  assert.ok(rawMax > 1e-2, "control: raw coordinates must change");
});

Deno.test("lattice: symmetric cell gives the identity; singular cell is flagged", () => {
  const lats = new Float64Array([
    ...[4, 0, 0, 0, 5, 0, 0, 0, 6],
    ...[0, 0, 0, 0, 0, 0, 0, 0, 0],
    ...[1, 2, 3, 2, 4, 6, 0, 0, 1], // rank 2
    ...[1, 0, 0, 0, NaN, 0, 0, 0, 1],
  ]);
  const singular = new Uint8Array(4);
  const U = latticeFrames(lats, 4, singular);
  assert.deepEqual(Array.from(singular), [0, 1, 1, 1]);
  for (let c = 0; c < 4; c++) {
    const u = U.subarray(9 * c, 9 * c + 9);
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(u[i] - (i % 4 === 0 ? 1 : 0)) < 1e-15);
  }
  assert.throws(() => latticeFrames(new Float64Array(9), 2));
});
