/**
 * Batched eigensolver for symmetric 3×3 matrices (float64, host side) by cyclic Jacobi
 * rotations. The CUDA helper implements the same steps (one thread per matrix), so the code
 * is kept flat: fixed pair order, a fixed sweep cap, one early exit per sweep.
 *
 * Output convention (shared with the CUDA helper, native/cuda/eigen3.cuh):
 * - eigenvalues ascending;
 * - eigenvectors as columns of a row-major 3×3 (`vectors[9m + 3i + k]` = component i of
 *   eigenvector k);
 * - sign: each eigenvector is negated if needed so that its largest-magnitude component is
 *   positive (ties: the first such component, in index order). This makes the output a
 *   deterministic function of the input. For repeated eigenvalues the eigenvectors of the
 *   shared eigenspace are still an arbitrary (but deterministic) orthonormal basis of it.
 * @module
 */

/** Maximum number of Jacobi sweeps (3 rotations each); 3×3 typically needs 4–6. */
export const JACOBI_MAX_SWEEPS = 32;

/** Off-diagonal mass (squared) below which a sweep loop stops, relative to ‖A‖²_F. */
const CONVERGED = (2 ** -53) ** 2;

/** Rotation planes (p, q) of one cyclic sweep; the third index is r = 3 − p − q. */
const PAIRS = [0, 1, 0, 2, 1, 2] as const;

// Per-matrix scratch, reused (the solver is synchronous and not re-entrant).
const a = new Float64Array(9);
const v = new Float64Array(9);
const d = new Float64Array(3);
const col = new Int32Array(3);

/** Compare-exchange of the sorting network: keep d[i] ≤ d[j], columns follow. */
function sortPair(i: number, j: number): void {
  if (d[j] < d[i]) {
    const td = d[i], tc = col[i];
    d[i] = d[j], col[i] = col[j];
    d[j] = td, col[j] = tc;
  }
}

/**
 * Eigen-decompose `count` symmetric 3×3 matrices.
 *
 * Steps per matrix:
 * 1. Symmetrise (off-diagonal pairs averaged) and scale by the largest |entry| so that the
 *    arithmetic neither overflows nor underflows; a zero matrix gives values 0 and vectors I,
 *    a non-finite one gives NaN everywhere.
 * 2. Cyclic Jacobi: for (p,q) = (0,1), (0,2), (1,2), zero a_pq by the rotation of
 *    Numerical Recipes (t = sgn(θ)/(|θ| + √(θ²+1)), θ = (a_qq − a_pp)/(2 a_pq)), applied to A
 *    and accumulated into V. Stop when Σ a_pq² ≤ ε²‖A‖²_F (ε = 2⁻⁵³) or after
 *    {@linkcode JACOBI_MAX_SWEEPS} sweeps.
 * 3. Undo the scale, sort ascending (3-element sorting network, columns move with values).
 * 4. Canonical signs (see module doc).
 *
 * @param matrices `[count, 9]` row-major matrices (only read).
 * @param count number of matrices.
 * @param values `[count, 3]` output, ascending eigenvalues.
 * @param vectors `[count, 9]` output, row-major; column k is the unit eigenvector of value k.
 */
export function symmetricEigen3Batched(
  matrices: Float64Array,
  count: number,
  values: Float64Array,
  vectors: Float64Array,
): void {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`bad count ${count}`);
  if (matrices.length < 9 * count || vectors.length < 9 * count || values.length < 3 * count) {
    throw new RangeError(
      `symmetricEigen3Batched: need matrices/vectors ≥ ${9 * count}, values ≥ ${3 * count}`,
    );
  }
  for (let m = 0; m < count; m++) eigen3At(matrices, m, values, vectors);
}

function eigen3At(matrices: Float64Array, m: number, values: Float64Array, vectors: Float64Array) {
  const o = 9 * m;
  // 1. symmetrise + scale
  let scale = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const x = 0.5 * (matrices[o + 3 * i + j] + matrices[o + 3 * j + i]);
      a[3 * i + j] = x;
      scale = Math.max(scale, Math.abs(x)); // NaN-propagating below via the finite check
    }
  }
  let finite = true;
  for (let i = 0; i < 9; i++) if (!Number.isFinite(a[i])) finite = false;
  if (!finite || scale === 0) {
    const fill = finite ? 0 : NaN;
    values.fill(fill, 3 * m, 3 * m + 3);
    for (let i = 0; i < 9; i++) vectors[o + i] = finite ? (i % 4 === 0 ? 1 : 0) : NaN;
    return;
  }
  const inv = 1 / scale;
  for (let i = 0; i < 9; i++) a[i] *= inv;
  v.fill(0);
  v[0] = v[4] = v[8] = 1;

  // 2. cyclic Jacobi sweeps
  for (let sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
    const off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5];
    const norm2 = a[0] * a[0] + a[4] * a[4] + a[8] * a[8] + 2 * off;
    if (off <= CONVERGED * norm2) break;
    for (let k = 0; k < 6; k += 2) {
      const p = PAIRS[k], q = PAIRS[k + 1], r = 3 - p - q;
      const apq = a[3 * p + q];
      if (apq === 0) continue;
      const theta = (a[3 * q + q] - a[3 * p + p]) / (2 * apq);
      // For |θ| > 1e150, θ² would overflow: √(θ²+1) = |θ| to double precision; sgn(0) = +1.
      const at = Math.abs(theta);
      const t = (theta >= 0 ? 1 : -1) / (at + (at > 1e150 ? at : Math.sqrt(theta * theta + 1)));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      const tau = s / (1 + c);
      const h = t * apq;
      a[3 * p + p] -= h;
      a[3 * q + q] += h;
      a[3 * p + q] = a[3 * q + p] = 0;
      const arp = a[3 * r + p], arq = a[3 * r + q];
      a[3 * r + p] = a[3 * p + r] = arp - s * (arq + tau * arp);
      a[3 * r + q] = a[3 * q + r] = arq + s * (arp - tau * arq);
      for (let i = 0; i < 3; i++) {
        const vip = v[3 * i + p], viq = v[3 * i + q];
        v[3 * i + p] = vip - s * (viq + tau * vip);
        v[3 * i + q] = viq + s * (vip - tau * viq);
      }
    }
  }

  // 3. unscale, sort ascending (network (0,1), (1,2), (0,1)); columns follow their values
  for (let k = 0; k < 3; k++) {
    d[k] = a[4 * k] * scale;
    col[k] = k;
  }
  sortPair(0, 1);
  sortPair(1, 2);
  sortPair(0, 1);

  // 4. canonical signs: largest-|.| component of each column positive
  for (let k = 0; k < 3; k++) {
    values[3 * m + k] = d[k];
    const src = col[k];
    let big = 0;
    for (let i = 1; i < 3; i++) {
      if (Math.abs(v[3 * i + src]) > Math.abs(v[3 * big + src])) big = i;
    }
    const sign = v[3 * big + src] < 0 ? -1 : 1;
    for (let i = 0; i < 3; i++) vectors[o + 3 * i + k] = sign * v[3 * i + src];
  }
}
