/**
 * Test helpers for frames: a seeded RNG and random orthogonal matrices, written plainly and
 * independently of lib/frames.
 * @module
 */

import { seededRng } from "../helpers/numeric.ts";

export { seededRng };

/** Standard normal by Box–Muller. */
export function gaussian(rng: () => number): number {
  const u = 1 - rng(), v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Row-major 3×3 product a·b. */
export function matmul3(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const c = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) c[3 * i + j] += a[3 * i + k] * b[3 * k + j];
    }
  }
  return c;
}

/** Transpose of a row-major 3×3. */
export function transpose3(a: ArrayLike<number>): number[] {
  return [a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]];
}

/** Determinant of a row-major 3×3. */
export function det3(m: ArrayLike<number>): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
    m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/** Random orthogonal 3×3 (Gram–Schmidt of Gaussian rows) with determinant +1 or −1. */
export function randomOrthogonal(rng: () => number, improper: boolean): number[] {
  const r: number[][] = [];
  while (r.length < 3) {
    let v = [gaussian(rng), gaussian(rng), gaussian(rng)];
    for (const u of r) {
      const d = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
      v = v.map((x, i) => x - d * u[i]);
    }
    const n = Math.hypot(...v);
    if (n > 1e-3) r.push(v.map((x) => x / n));
  }
  const m = r.flat();
  if ((det3(m) < 0) !== improper) { for (let j = 0; j < 3; j++) m[j] = -m[j]; }
  return m;
}

/** x·M for every row vector x of an `[n, 3]` array, plus an optional shift. */
export function transformRows(
  x: Float64Array,
  m: ArrayLike<number>,
  shift: ArrayLike<number> = [0, 0, 0],
): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length / 3; i++) {
    for (let j = 0; j < 3; j++) {
      out[3 * i + j] = x[3 * i] * m[j] + x[3 * i + 1] * m[3 + j] + x[3 * i + 2] * m[6 + j] +
        shift[j];
    }
  }
  return out;
}

/** A random permutation of 0..n−1. */
export function randomPermutation(n: number, rng: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}
