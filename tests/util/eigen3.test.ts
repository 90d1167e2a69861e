import assert from "node:assert/strict";
import { symmetricEigen3Batched } from "../../lib/util/eigen3.ts";
import { gaussian, matmul3, randomOrthogonal, seededRng, transpose3 } from "../frames/_helpers.ts";

/** Solve a batch and check A·v = λ·v, VᵀV = I, ascending values, canonical signs. */
function solveAndCheck(mats: number[][], tol = 1e-12) {
  const n = mats.length;
  const a = new Float64Array(mats.flat());
  const values = new Float64Array(3 * n);
  const vectors = new Float64Array(9 * n);
  symmetricEigen3Batched(a, n, values, vectors);
  for (let m = 0; m < n; m++) {
    const A = mats[m];
    const scale = Math.max(...A.map(Math.abs), Number.MIN_VALUE);
    const V = Array.from(vectors.subarray(9 * m, 9 * m + 9));
    const lam = Array.from(values.subarray(3 * m, 3 * m + 3));
    assert.ok(lam[0] <= lam[1] && lam[1] <= lam[2], `ascending ${lam}`);
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 3; i++) {
        let av = 0;
        for (let j = 0; j < 3; j++) av += A[3 * i + j] * V[3 * j + k];
        const res = Math.abs(av - lam[k] * V[3 * i + k]);
        assert.ok(res <= tol * scale, `matrix ${m} residual ${res} (scale ${scale})`);
      }
      // canonical sign: largest-|.| component positive
      const col = [V[k], V[3 + k], V[6 + k]];
      const big = col.reduce((b, x) => (Math.abs(x) > Math.abs(b) ? x : b), 0);
      assert.ok(big > 0, `sign convention of column ${k}: ${col}`);
    }
    const vtv = matmul3(transpose3(V), V);
    for (let i = 0; i < 9; i++) {
      assert.ok(Math.abs(vtv[i] - (i % 4 === 0 ? 1 : 0)) <= tol, `orthonormality ${vtv}`);
    }
  }
  return { values, vectors };
}

/** Eigenvalues by the closed-form trigonometric method (independent of Jacobi). */
function closedFormEigenvalues(A: number[]): number[] {
  const q = (A[0] + A[4] + A[8]) / 3;
  const p1 = A[1] ** 2 + A[2] ** 2 + A[5] ** 2;
  const p2 = (A[0] - q) ** 2 + (A[4] - q) ** 2 + (A[8] - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  if (p === 0) return [q, q, q];
  const B = A.map((x, i) => (x - (i % 4 === 0 ? q : 0)) / p);
  const detB = B[0] * (B[4] * B[8] - B[5] * B[7]) - B[1] * (B[3] * B[8] - B[5] * B[6]) +
    B[2] * (B[3] * B[7] - B[4] * B[6]);
  const r = Math.max(-1, Math.min(1, detB / 2));
  const phi = Math.acos(r) / 3;
  const l3 = q + 2 * p * Math.cos(phi);
  const l1 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  return [l1, 3 * q - l1 - l3, l3];
}

function fromSpectrum(q: number[], d: number[]): number[] {
  const D = [d[0], 0, 0, 0, d[1], 0, 0, 0, d[2]];
  const m = matmul3(matmul3(q, D), transpose3(q));
  // exact symmetry so the test matrix is what we think it is
  for (let i = 0; i < 3; i++) for (let j = 0; j < i; j++) m[3 * i + j] = m[3 * j + i];
  return m;
}

Deno.test("eigen3: random symmetric matrices match the closed form", () => {
  const rng = seededRng(1);
  const mats: number[][] = [];
  for (let m = 0; m < 500; m++) {
    const g = Array.from({ length: 9 }, () => gaussian(rng));
    mats.push(g.map((_, i) => 0.5 * (g[i] + g[3 * (i % 3) + Math.floor(i / 3)])));
  }
  const { values } = solveAndCheck(mats);
  for (let m = 0; m < mats.length; m++) {
    const ref = closedFormEigenvalues(mats[m]);
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(values[3 * m + k] - ref[k]) <= 1e-12 * Math.max(1, Math.abs(ref[2])));
    }
  }
});

Deno.test("eigen3: diagonal matrix gives sorted values and unit axes", () => {
  const { values, vectors } = solveAndCheck([[3, 0, 0, 0, -1, 0, 0, 0, 2]]);
  assert.deepEqual(Array.from(values), [-1, 2, 3]);
  // column 0 = e_y, column 1 = e_z, column 2 = e_x
  assert.deepEqual(Array.from(vectors), [0, 0, 1, 1, 0, 0, 0, 1, 0]);
});

Deno.test("eigen3: repeated eigenvalues, zero matrix, multiple of identity", () => {
  const rng = seededRng(2);
  const mats = [
    fromSpectrum(randomOrthogonal(rng, false), [1, 1, 2]),
    fromSpectrum(randomOrthogonal(rng, false), [-3, 5, 5]),
    fromSpectrum(randomOrthogonal(rng, true), [0, 0, 7]),
    fromSpectrum(randomOrthogonal(rng, false), [4, 4, 4]),
    [0, 0, 0, 0, 0, 0, 0, 0, 0],
    [2, 0, 0, 0, 2, 0, 0, 0, 2],
  ];
  const { values, vectors } = solveAndCheck(mats);
  const expect = [[1, 1, 2], [-3, 5, 5], [0, 0, 7], [4, 4, 4], [0, 0, 0], [2, 2, 2]];
  for (let m = 0; m < mats.length; m++) {
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(values[3 * m + k] - expect[m][k]) <= 1e-13 * 7, `${m}: ${values}`);
    }
  }
  // the zero matrix returns the identity basis
  assert.deepEqual(Array.from(vectors.subarray(36, 45)), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
});

Deno.test("eigen3: scale invariance over extreme magnitudes", () => {
  const rng = seededRng(3);
  const q = randomOrthogonal(rng, false);
  const base = fromSpectrum(q, [0.5, 1.3, 2.9]);
  const ref = solveAndCheck([base]);
  for (const s of [1e-200, 1e-20, 1e20, 1e200]) {
    const { values, vectors } = solveAndCheck([base.map((x) => x * s)]);
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(values[k] / s - ref.values[k]) <= 1e-13 * 3);
    }
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(vectors[i] - ref.vectors[i]) <= 1e-12);
  }
});

Deno.test("eigen3: nearly degenerate and badly scaled spectra", () => {
  const rng = seededRng(4);
  const mats = [
    fromSpectrum(randomOrthogonal(rng, false), [1, 1 + 1e-12, 2]),
    fromSpectrum(randomOrthogonal(rng, false), [1e-14, 1, 1e14]),
    fromSpectrum(randomOrthogonal(rng, false), [-1, 0, 1]),
  ];
  solveAndCheck(mats);
});

Deno.test("eigen3: non-finite input gives NaN, short outputs throw", () => {
  const values = new Float64Array(3), vectors = new Float64Array(9);
  symmetricEigen3Batched(new Float64Array([1, NaN, 0, NaN, 1, 0, 0, 0, 1]), 1, values, vectors);
  assert.ok(values.every(Number.isNaN) && vectors.every(Number.isNaN));
  assert.throws(() => symmetricEigen3Batched(new Float64Array(18), 2, values, vectors));
});
