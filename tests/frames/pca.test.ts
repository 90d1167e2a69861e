import assert from "node:assert/strict";
import { pcaFrames, relativeEigengap } from "../../lib/frames/pca.ts";
import {
  gaussian,
  matmul3,
  randomOrthogonal,
  randomPermutation,
  seededRng,
  transformRows,
  transpose3,
} from "./_helpers.ts";

/** Plain (x − t)·U·diag(s) of crystal c for sign bits f. */
function coords(
  x: Float64Array,
  lo: number,
  hi: number,
  t: ArrayLike<number>,
  u: ArrayLike<number>,
  f: number,
): number[][] {
  const out: number[][] = [];
  for (let i = lo; i < hi; i++) {
    const row: number[] = [];
    for (let k = 0; k < 3; k++) {
      let s = 0;
      for (let j = 0; j < 3; j++) s += (x[3 * i + j] - t[j]) * u[3 * j + k];
      row.push((f >> k) & 1 ? -s : s);
    }
    out.push(row);
  }
  return out;
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    for (let k = 0; k < 3; k++) m = Math.max(m, Math.abs(a[i][k] - b[i][k]));
  }
  return m;
}

/** Random anisotropic clouds (clear eigengaps) as one batch. */
function randomBatch(rng: () => number, nCrystals: number) {
  const sizes = Array.from({ length: nCrystals }, () => 4 + Math.floor(rng() * 20));
  const segments = new Int32Array(nCrystals + 1);
  for (let c = 0; c < nCrystals; c++) segments[c + 1] = segments[c] + sizes[c];
  const x = new Float64Array(3 * segments[nCrystals]);
  for (let c = 0; c < nCrystals; c++) {
    const q = randomOrthogonal(rng, false);
    const axes = [1, 2.2, 4]; // well separated variances
    const shift = [10 * rng(), 10 * rng(), 10 * rng()];
    for (let i = segments[c]; i < segments[c + 1]; i++) {
      const p = axes.map((a) => a * gaussian(rng));
      for (let j = 0; j < 3; j++) {
        x[3 * i + j] = shift[j] + p[0] * q[j] + p[1] * q[3 + j] + p[2] * q[6 + j];
      }
    }
  }
  return { x, segments };
}

Deno.test("pca: eigen-decomposition of the centred covariance", () => {
  const { x, segments } = randomBatch(seededRng(10), 20);
  const fr = pcaFrames(x, segments);
  for (let c = 0; c < 20; c++) {
    const lo = segments[c], hi = segments[c + 1];
    const t = [0, 0, 0];
    for (let i = lo; i < hi; i++) for (let j = 0; j < 3; j++) t[j] += x[3 * i + j] / (hi - lo);
    for (let j = 0; j < 3; j++) assert.ok(Math.abs(fr.centers[3 * c + j] - t[j]) < 1e-12);
    // Uᵀ C U = diag(λ) with C built plainly
    const C = new Array(9).fill(0);
    for (let i = lo; i < hi; i++) {
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) C[3 * a + b] += (x[3 * i + a] - t[a]) * (x[3 * i + b] - t[b]);
      }
    }
    const U = fr.rotations.subarray(9 * c, 9 * c + 9);
    const D = matmul3(matmul3(transpose3(U), C), U);
    const scale = Math.max(...C.map(Math.abs));
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const want = a === b ? fr.eigenvalues[3 * c + a] : 0;
        assert.ok(Math.abs(D[3 * a + b] - want) < 1e-12 * scale);
      }
    }
    assert.equal(fr.degenerate[c], 0);
  }
});

Deno.test("pca: the set of 8 sign frames is invariant under O(3) + translation + permutation", () => {
  const rng = seededRng(11);
  const n = 40;
  const { x, segments } = randomBatch(rng, n);
  const orig = pcaFrames(x, segments);
  let rawMax = 0;
  for (const improper of [false, true]) {
    // per-crystal rotation, translation and permutation
    const y = new Float64Array(x.length);
    const perms: number[][] = [];
    for (let c = 0; c < n; c++) {
      const lo = segments[c], hi = segments[c + 1];
      const R = randomOrthogonal(rng, improper);
      const shift = [gaussian(rng) * 5, gaussian(rng) * 5, gaussian(rng) * 5];
      const moved = transformRows(x.subarray(3 * lo, 3 * hi), R, shift);
      const p = randomPermutation(hi - lo, rng);
      perms.push(p);
      // new atom i is old atom p[i]
      for (let i = 0; i < hi - lo; i++) y.set(moved.subarray(3 * p[i], 3 * p[i] + 3), 3 * (lo + i));
    }
    const rot = pcaFrames(y, segments);
    for (let c = 0; c < n; c++) {
      const lo = segments[c], hi = segments[c + 1];
      const tA = orig.centers.subarray(3 * c), uA = orig.rotations.subarray(9 * c);
      const tB = rot.centers.subarray(3 * c), uB = rot.rotations.subarray(9 * c);
      const p = perms[c];
      const used = new Set<number>();
      for (let f = 0; f < 8; f++) {
        const a = coords(x, lo, hi, tA, uA, f);
        let found = -1;
        for (let g = 0; g < 8; g++) {
          const bPerm = coords(y, lo, hi, tB, uB, g);
          const b: number[][] = new Array(hi - lo);
          for (let i = 0; i < hi - lo; i++) b[p[i]] = bPerm[i]; // undo the permutation
          if (maxDiff(a, b) < 1e-9) found = g;
        }
        assert.ok(found >= 0, `crystal ${c} frame ${f} has no match (improper=${improper})`);
        used.add(found);
      }
      assert.equal(used.size, 8, "frame matching must be a bijection");
      // control: the raw centred coordinates do change
      const rawA = coords(x, lo, hi, tA, [1, 0, 0, 0, 1, 0, 0, 0, 1], 0);
      const rawBPerm = coords(y, lo, hi, tB, [1, 0, 0, 0, 1, 0, 0, 0, 1], 0);
      const rawB: number[][] = new Array(hi - lo);
      for (let i = 0; i < hi - lo; i++) rawB[p[i]] = rawBPerm[i];
      rawMax = Math.max(rawMax, maxDiff(rawA, rawB));
    }
  }
  assert.ok(rawMax > 1e-2, "control: un-framed coordinates must not be invariant");
});

Deno.test("pca: degenerate detection (cubic perovskite, one atom, line, plane is fine)", () => {
  const a = 3.9;
  const perovskite = [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5].map((v) =>
    v * a
  );
  const simpleCubic: number[] = [];
  for (let i = 0; i < 8; i++) simpleCubic.push(i & 1 ? 2 : 0, i & 2 ? 2 : 0, i & 4 ? 2 : 0);
  const one = [1.5, -2, 3];
  const line = [0, 0, 0, 1, 2, 3, 2.5, 5, 7.5, -1, -2, -3];
  const plane = [0, 0, 0, 1, 0, 0, 0, 3, 0, 1, 3, 0, 0.5, 1, 0];
  const clouds = [perovskite, simpleCubic, one, line, plane];
  const segments = new Int32Array(clouds.length + 1);
  clouds.forEach((p, c) => segments[c + 1] = segments[c] + p.length / 3);
  const fr = pcaFrames(new Float64Array(clouds.flat()), segments);
  assert.deepEqual(Array.from(fr.degenerate), [1, 1, 1, 1, 0]);
  for (let c = 0; c < 4; c++) assert.ok(fr.relativeGap[c] < 1e-12, `exact degeneracy ${c}`);
  assert.ok(fr.relativeGap[4] > 1e-2);
  assert.deepEqual(Array.from(fr.eigenvalues.subarray(6, 9)), [0, 0, 0]); // one atom: C = 0
  // the tolerance option is honoured
  const loose = pcaFrames(new Float64Array(clouds.flat()), segments, { gapTolerance: 1 });
  assert.deepEqual(Array.from(loose.degenerate), [1, 1, 1, 1, 1]);
});

Deno.test("pca: relative eigengap definition", () => {
  assert.equal(relativeEigengap(1, 2, 4), 0.25);
  assert.equal(relativeEigengap(0, 3, 4), 0.25);
  assert.equal(relativeEigengap(2, 2, 4), 0);
  assert.equal(relativeEigengap(0, 0, 0), 0);
  assert.equal(relativeEigengap(-1e-20, 0, 0), 0);
});

Deno.test("pca: empty crystals and bad segments", () => {
  const fr = pcaFrames(new Float64Array([1, 2, 3]), new Int32Array([0, 0, 1]));
  assert.deepEqual(Array.from(fr.centers), [0, 0, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(fr.degenerate), [1, 1]);
  assert.throws(() => pcaFrames(new Float64Array(3), new Int32Array([0, 2])));
  assert.throws(() => pcaFrames(new Float64Array(6), new Int32Array([0, 2, 1])));
});
