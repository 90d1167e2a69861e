/**
 * Gaussian radial basis expansion of edge distances (CGCNN's `GaussianDistance`:
 * μ = 0, 0.2, …, 8 Å, σ = 0.2).
 * @module
 */

/**
 * Centres μ_k = min + k · step for k = 0 .. K−1, K = floor((max − min)/step) + 1; width σ.
 */
export interface GaussianOptions {
  /** First centre in Å (default 0). */
  min?: number;
  /** Last centre in Å (default 8). */
  max?: number;
  /** Spacing of the centres in Å (default 0.2). */
  step?: number;
  /** Width σ in Å (default: `step`, as CGCNN's `var=None`; 0.2 with the defaults). */
  sigma?: number;
}

function resolve(o: GaussianOptions): { min: number; step: number; k: number; inv: number } {
  const min = o.min ?? 0, max = o.max ?? 8, step = o.step ?? 0.2, sigma = o.sigma ?? step;
  if (!(step > 0) || !(max >= min) || !(sigma > 0) || !Number.isFinite(max - min)) {
    throw new RangeError(
      `invalid Gaussian expansion: min ${min}, max ${max}, step ${step}, sigma ${sigma}`,
    );
  }
  // The small slack keeps 8/0.2 = 39.999… from dropping the last centre (numpy's arange
  // (min, max + step, step) gives 41 centres here too).
  const k = Math.floor((max - min) / step + 1e-9) + 1;
  return { min, step, k, inv: 1 / (sigma * sigma) };
}

/** Number of centres K for these options (41 with the defaults). */
export function gaussianSize(options: GaussianOptions = {}): number {
  return resolve(options).k;
}

/** The centres `[K]` in Å. */
export function gaussianCentres(options: GaussianOptions = {}): Float64Array {
  const { min, step, k } = resolve(options);
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) out[i] = min + i * step;
  return out;
}

/**
 * Writes exp(−(d − μ_k)² / σ²) for each distance into `out`: row e starts at
 * `offset + e · stride` (stride defaults to K), so rows can be interleaved with other edge
 * features in a preallocated batch buffer. Throws if `out` is too short.
 */
export function gaussianExpandInto(
  distances: ArrayLike<number>,
  out: Float32Array,
  offset = 0,
  options: GaussianOptions & { stride?: number } = {},
): void {
  const { min, step, k, inv } = resolve(options);
  const stride = options.stride ?? k;
  if (!(stride >= k) || !Number.isInteger(stride)) {
    throw new RangeError(`stride ${stride} must be an integer >= ${k}`);
  }
  const n = distances.length;
  if (n > 0 && offset + (n - 1) * stride + k > out.length) {
    throw new RangeError(
      `output buffer of ${out.length} too short for ${n} rows of ${k} at offset ${offset}, stride ${stride}`,
    );
  }
  const direct = (e: number) => { // K exps: exp(NaN) is NaN, exp(−∞) is 0, as they should be
    const row = offset + e * stride;
    for (let i = 0; i < k; i++) {
      const t = distances[e] - (min + i * step);
      out[row + i] = Math.exp(-t * t * inv);
    }
  };
  const s2 = step * step * inv;
  if (s2 > 300) { // very narrow Gaussians: the recurrence factors below would overflow
    for (let e = 0; e < n; e++) direct(e);
    return;
  }
  // Two exps per edge instead of K: with c the nearest centre and u = d − μ_c,
  // g_{c±(j+1)} = g_{c±j} · P^{±1} · Q_j, P = exp(2 u step/σ²), Q_j = exp(−(2j+1) step²/σ²).
  if (q.length < k) q = new Float64Array(k);
  for (let j = 0; j < k; j++) q[j] = Math.exp(-(2 * j + 1) * s2);
  for (let e = 0; e < n; e++) {
    const t = distances[e] - min;
    let c = Math.round(t / step);
    c = c < 0 ? 0 : c >= k ? k - 1 : c;
    const u = t - c * step;
    // A NaN or infinite distance, or one so far beyond the basis (|u| ≥ 350 σ²/step: 70 Å
    // with the defaults) that P overflows: the recurrence would write nothing (NaN index) or
    // ∞·0 = NaN.
    if (!(Math.abs(2 * u * step * inv) < 700)) {
      direct(e);
      continue;
    }
    const row = offset + e * stride;
    const gc = Math.exp(-u * u * inv);
    const p = Math.exp(2 * u * step * inv), pinv = 1 / p;
    out[row + c] = gc;
    let g = gc;
    for (let j = 0; c + j + 1 < k; j++) out[row + c + j + 1] = g *= p * q[j];
    g = gc;
    for (let j = 0; c - j - 1 >= 0; j++) out[row + c - j - 1] = g *= pinv * q[j];
  }
}

let q = new Float64Array(64); // scratch for the Q_j factors

/**
 * Gaussian expansion `[nEdges, K]` (K = 41 by default) of distances `[nEdges]` in Å:
 * exp(−(d − μ_k)² / σ²) with μ_k = 0, 0.2, …, 8.0 and σ = 0.2.
 *
 * @example
 * ```ts
 * import { gaussianExpand } from "@facgcnn/toolkit";
 * const g = gaussianExpand(new Float64Array([1.5, 2.5])); // [2 × 41] Gaussians, 0..8 Å
 * console.log(g.length); // 82
 * ```
 */
export function gaussianExpand(
  distances: ArrayLike<number>,
  options: GaussianOptions = {},
): Float32Array {
  const out = new Float32Array(distances.length * resolve(options).k);
  gaussianExpandInto(distances, out, 0, options);
  return out;
}
