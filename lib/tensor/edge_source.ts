/**
 * CGCNN edge features given by their distances (Xie & Grossman 2018: 41 Gaussians of the bond
 * length, plus FACGCNN's 3 frame components) instead of a stored `[E, K]` matrix, and the two
 * products the convolution needs of them: the edge term `u·W_uᵀ` and its weight gradient
 * `dzᵀ·u`. Backends with `edgeGemm` form the Gaussians inside the product; others get the
 * features expanded into a temporary and a GEMM.
 * @module
 */

import type { Backend, EdgeSourceArgs, Storage } from "../backend/backend.ts";
import { Tensor } from "./tensor.ts";

/** Gaussian basis `g_k(d) = exp(−(d − (start + k·step))² / σ²)`, k < centres. */
export interface GaussianBasis {
  centres: number;
  start: number;
  step: number;
  sigma: number;
}

/**
 * Edge features `u[r] = [g(distances[r mod E]), extra[r]]`, `[rows, centres + X]`: the k frame
 * copies of a stacked batch (rows = k·E) share their distances.
 */
export interface EdgeSource {
  /** `[E]` distances (Å). */
  distances: Tensor;
  /** `[rows, X]` features after the Gaussians (FACGCNN's frame vectors), or null. */
  extra: Tensor | null;
  /** Rows (edges of all copies, a multiple of E). */
  rows: number;
  basis: GaussianBasis;
}

/** Number of features per row (K = centres + X). */
export function edgeSourceWidth(s: EdgeSource): number {
  return s.basis.centres + (s.extra ? s.extra.cols : 0);
}

function sourceArgs(s: EdgeSource): EdgeSourceArgs {
  const period = s.distances.size;
  if (s.rows > 0 && (period === 0 || s.rows % period !== 0)) {
    throw new RangeError(`edge source: ${s.rows} rows are not copies of ${period} distances`);
  }
  if (s.extra && s.extra.rows !== s.rows) {
    throw new RangeError(`edge source: extra features [${s.extra.shape}] for ${s.rows} rows`);
  }
  return {
    ...{ distances: s.distances.storage, period, extra: s.extra?.storage ?? null },
    ...{ extraCols: s.extra?.cols ?? 0, rows: s.rows, ...s.basis },
  };
}

/** The `[rows, K]` features in a fresh buffer (for backends without `edgeGemm`); caller frees. */
function expand(b: Backend, a: EdgeSourceArgs): Storage {
  const K = a.centres + a.extraCols, u = b.alloc("float32", a.rows * K, false);
  for (let r0 = 0; r0 < a.rows; r0 += a.period) {
    b.gaussianExpand({
      ...{ distances: a.distances, out: u, outOffset: r0 * K, rows: a.period, ld: K, col: 0 },
      ...{ centres: a.centres, start: a.start, step: a.step, sigma: a.sigma },
    });
  }
  if (a.extra && a.extraCols > 0) {
    b.copyCols({
      ...{ src: a.extra, srcLd: a.extraCols, srcCol: 0, dst: u, dstLd: K, dstCol: a.centres },
      ...{ rows: a.rows, cols: a.extraCols, accumulate: false },
    });
  }
  return u;
}

/**
 * The features themselves, `[rows, K]` (for the ops that need them stored: the composed
 * convolution of backends without the fused edge kernels, SyncBN). No gradient.
 */
export function edgeSourceFeatures(s: EdgeSource): Tensor {
  const b = s.distances.backend;
  return new Tensor(b, expand(b, sourceArgs(s)), [s.rows, edgeSourceWidth(s)]);
}

/**
 * `out[r, c] = Σ_k u[r, k] · weight[c, weightOffset + k]`: the edge term `W_u u` into
 * `out` `[rows, cols]` (overwritten), `weight` `[cols, ldw]`.
 */
export function edgeSourceGemm(
  s: EdgeSource,
  weight: Tensor,
  weightOffset: number,
  out: Storage,
): void {
  const b = weight.backend, a = sourceArgs(s), K = edgeSourceWidth(s), cols = weight.rows;
  if (weightOffset + K > weight.cols) {
    throw new RangeError(
      `edge term: ${K} features from column ${weightOffset} of [${weight.shape}]`,
    );
  }
  if (b.edgeGemm) {
    b.edgeGemm({ ...a, weight: weight.storage, ldw: weight.cols, weightOffset, cols, out });
    return;
  }
  const u = expand(b, a);
  try {
    b.gemm({
      ...{ transA: false, transB: true, m: s.rows, n: cols, k: K, alpha: 1, beta: 0 },
      ...{ a: u, lda: K, b: weight.storage, bOffset: weightOffset, ldb: weight.cols },
      ...{ c: out, ldc: cols },
    });
  } finally {
    b.free(u);
  }
}

/**
 * The weight gradient of {@linkcode edgeSourceGemm}:
 * `dWeight[c, weightOffset + k] (+)= Σ_r dz[r, c] · u[r, k]`, `dWeight` `[cols, ldw]`.
 */
export function edgeSourceWeightGrad(
  s: EdgeSource,
  dz: Storage,
  cols: number,
  dWeight: Storage,
  ldw: number,
  weightOffset: number,
  accumulate: boolean,
  backend: Backend,
): void {
  const b = backend, a = sourceArgs(s), K = edgeSourceWidth(s);
  if (b.edgeGemmWeightGrad) {
    b.edgeGemmWeightGrad({ ...a, dz, cols, dWeight, ldw, weightOffset, accumulate });
    return;
  }
  const u = expand(b, a);
  try {
    b.gemm({
      ...{ transA: true, transB: false, m: cols, n: K, k: s.rows, alpha: 1 },
      ...{ beta: accumulate ? 1 : 0, a: dz, lda: cols, b: u, ldb: K },
      ...{ c: dWeight, cOffset: weightOffset, ldc: ldw },
    });
  } finally {
    b.free(u);
  }
}
