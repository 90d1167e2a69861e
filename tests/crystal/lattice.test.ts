import assert from "node:assert/strict";
import {
  cartesian,
  formula,
  fractional,
  inverseLattice,
  latticeFromParameters,
  latticeHeights,
  latticeParameters,
  latticeVolume,
  validateLattice,
} from "../../lib/crystal/lattice.ts";
import type { Structure } from "../../lib/crystal/types.ts";

const rad = (d: number) => (d * Math.PI) / 180;

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `index ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

Deno.test("latticeFromParameters follows pymatgen's convention (hand-computed hexagonal cell)", () => {
  // a = (a sin β, 0, a cos β) = (3, 0, 0); cos γ* = (0·0 − cos 120°)/1 = 1/2 →
  // b = (−b · 1/2, b · √3/2, 0); c = (0, 0, 5).
  const l = latticeFromParameters(3, 3, 5, 90, 90, 120);
  close(l, [3, 0, 0, -1.5, 1.5 * Math.sqrt(3), 0, 0, 0, 5], 1e-14);
});

Deno.test("latticeFromParameters: c along z, a in the xz-plane, parameters recovered", () => {
  const cases = [
    [4.1, 5.2, 6.3, 80, 100, 110],
    [3, 3, 3, 60, 60, 60],
    [5, 7, 4, 90, 120, 90],
    [2.5, 9, 4.4, 30, 150, 140],
  ];
  for (const [a, b, c, al, be, ga] of cases) {
    const l = latticeFromParameters(a, b, c, al, be, ga);
    assert.equal(l[1], 0);
    assert.equal(l[6], 0);
    assert.equal(l[7], 0);
    assert.equal(l[8], c);
    const dot = (i: number, j: number) => l[i] * l[j] + l[i + 1] * l[j + 1] + l[i + 2] * l[j + 2];
    const len = (i: number) => Math.sqrt(dot(i, i));
    close([len(0), len(3), len(6)], [a, b, c], 1e-12);
    close(
      [dot(3, 6) / (b * c), dot(0, 6) / (a * c), dot(0, 3) / (a * b)],
      [Math.cos(rad(al)), Math.cos(rad(be)), Math.cos(rad(ga))],
      1e-12,
    );
    const p = latticeParameters(l);
    close([p.a, p.b, p.c, p.alpha, p.beta, p.gamma], [a, b, c, al, be, ga], 1e-9);
  }
});

Deno.test("latticeFromParameters gives an exactly diagonal cubic cell", () => {
  assert.deepEqual(Array.from(latticeFromParameters(5.62, 5.62, 5.62, 90, 90, 90)), [
    5.62,
    0,
    0,
    0,
    5.62,
    0,
    0,
    0,
    5.62,
  ]);
});

Deno.test("latticeVolume matches the cell-parameter formula", () => {
  for (const [a, b, c, al, be, ga] of [[4, 5, 6, 70, 95, 115], [3, 3, 8, 90, 90, 120]]) {
    const [ca, cb, cg] = [al, be, ga].map((x) => Math.cos(rad(x)));
    const expected = a * b * c * Math.sqrt(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg);
    assert.ok(
      Math.abs(latticeVolume(latticeFromParameters(a, b, c, al, be, ga)) - expected) < 1e-9,
    );
  }
});

Deno.test("inverseLattice is the matrix inverse; heights are 1/|column of the inverse|", () => {
  const l = latticeFromParameters(4.3, 2.9, 7.1, 65, 112, 97);
  const inv = inverseLattice(l);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += l[3 * r + k] * inv[3 * k + c];
      assert.ok(Math.abs(s - (r === c ? 1 : 0)) < 1e-12);
    }
  }
  const h = latticeHeights(l);
  for (let c = 0; c < 3; c++) {
    const n = Math.hypot(inv[c], inv[3 + c], inv[6 + c]);
    assert.ok(Math.abs(h[c] - 1 / n) < 1e-12, `height ${c}`);
  }
  close(latticeHeights(latticeFromParameters(3, 4, 5, 90, 90, 90)), [3, 4, 5], 1e-14);
});

Deno.test("cartesian is frac · L and fractional inverts it", () => {
  const l = latticeFromParameters(4, 5, 6, 80, 95, 105);
  const frac = Float64Array.of(0.1, 0.2, 0.3, 0.9, -0.4, 1.7);
  const s: Structure = { id: "t", lattice: l, frac, numbers: Int32Array.of(1, 8) };
  const x = cartesian(s);
  for (let i = 0; i < 2; i++) {
    for (let c = 0; c < 3; c++) {
      const e = frac[3 * i] * l[c] + frac[3 * i + 1] * l[3 + c] + frac[3 * i + 2] * l[6 + c];
      assert.ok(Math.abs(x[3 * i + c] - e) < 1e-14);
    }
  }
  close(fractional(l, x), frac, 1e-12);
});

Deno.test("validateLattice rejects zero, negative and NaN volumes with the id", () => {
  validateLattice(latticeFromParameters(3, 4, 5, 90, 90, 90), "ok");
  // α + β = γ: the three vectors are coplanar.
  assert.throws(
    () => validateLattice(latticeFromParameters(3, 4, 5, 60, 60, 120), "flat"),
    /flat: lattice volume .* is zero/,
  );
  assert.throws(
    () => validateLattice(latticeFromParameters(-3, 4, 5, 90, 90, 90), "neg"),
    /neg: lattice volume -60.* is negative/,
  );
  assert.throws(
    () => validateLattice(latticeFromParameters(NaN, 4, 5, 90, 90, 90), "nan"),
    /nan: lattice has a non-finite entry/,
  );
  assert.throws(() => validateLattice(new Float64Array(9), "zero"), /zero: lattice volume/);
});

Deno.test("formula: reduced by default, cell content on request, first-appearance order", () => {
  const mk = (numbers: number[]): Structure => ({
    id: "f",
    lattice: latticeFromParameters(5, 5, 5, 90, 90, 90),
    frac: new Float64Array(3 * numbers.length),
    numbers: Int32Array.from(numbers),
  });
  assert.equal(formula(mk([11, 11, 11, 11, 17, 17, 17, 17])), "NaCl");
  assert.equal(formula(mk([11, 17, 11, 17, 11, 17, 11, 17]), { reduced: false }), "Na4Cl4");
  assert.equal(formula(mk([26, 8, 8, 26, 8, 26, 8, 8, 26, 8])), "Fe2O3");
  assert.equal(formula(mk([26, 8, 8, 26, 8, 26, 8, 8, 26, 8]), { reduced: false }), "Fe4O6");
  assert.equal(formula(mk([6])), "C");
});
