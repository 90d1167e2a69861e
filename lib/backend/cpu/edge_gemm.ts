/**
 * The CGCNN edge term `W_u u_e` and its weight gradient with the edge features formed from the
 * distances as they are needed (the TypeScript reference for, and fallback of, the C kernels in
 * native/cpu/edge_gemm.c). CGCNN's edge features are 41 Gaussians of the bond length
 * (Xie & Grossman 2018), plus FACGCNN's 3 frame components: stored, they are the largest input
 * of a batch (E×44 floats) for a product that needs only the E distances. Every Gaussian is
 * formed here (float64); the C kernels skip those below e^−80, which changes no float32 sum.
 * @module
 */

import type { EdgeGemmArgs, EdgeGemmWeightGradArgs, EdgeSourceArgs } from "../backend.ts";

type F = Float32Array;

/** The host form of {@linkcode EdgeGemmArgs}. */
export type EdgeGemmHost = EdgeGemmArgs<F>;
/** The host form of {@linkcode EdgeGemmWeightGradArgs}. */
export type EdgeGemmWeightGradHost = EdgeGemmWeightGradArgs<F>;

/** Edges per expanded block: the block's features stay in cache between the columns. */
const BLOCK = 64;

/** Checks sizes (the C kernels trust them) and returns K = G + X. */
export function checkEdgeSource(
  name: string,
  s: EdgeSourceArgs<F>,
  cols: number,
  weight: { ld: number; offset: number; length: number },
): number {
  const K = s.centres + s.extraCols;
  const bad = (what: string) => {
    throw new RangeError(`${name}: ${what}`);
  };
  if (!Number.isInteger(s.rows) || s.rows < 0 || !Number.isInteger(cols) || cols < 0) {
    bad(`${s.rows} rows × ${cols} columns`);
  }
  if (s.rows > 0 && !(s.period > 0 && s.period <= s.distances.length)) {
    bad(`period ${s.period} for ${s.distances.length} distances`);
  }
  if (s.extraCols > 0 && (!s.extra || s.extra.length < s.rows * s.extraCols)) {
    bad(`extra features ${s.extra?.length ?? "missing"} for ${s.rows} × ${s.extraCols}`);
  }
  if (!(s.centres >= 1) || !(s.sigma > 0) || !(s.step > 0)) {
    bad(`${s.centres} centres, step ${s.step}, sigma ${s.sigma}`);
  }
  if (weight.offset < 0 || weight.offset + K > weight.ld || weight.length < cols * weight.ld) {
    bad(`weight [${cols}, ${weight.ld}] (${weight.length}) at column ${weight.offset} for ${K}`);
  }
  return K;
}

/** `u[r, :]` for rows `r0 .. r0 + n` into `u` (`[n, K]`), Gaussians in float64 then rounded. */
function expandBlock(s: EdgeSourceArgs<F>, r0: number, n: number, K: number, u: F): void {
  const G = s.centres, X = s.extraCols, inv = 1 / (s.sigma * s.sigma);
  for (let r = 0; r < n; r++) {
    const d = s.distances[(r0 + r) % s.period], o = r * K;
    for (let k = 0; k < G; k++) {
      const t = d - (s.start + k * s.step);
      u[o + k] = Math.exp(-t * t * inv);
    }
    for (let x = 0; x < X; x++) u[o + G + x] = s.extra![(r0 + r) * X + x];
  }
}

/** `out[r, c] = Σ_k u[r, k] · W[c, off + k]` (float64 sums of K products, then rounded). */
export function edgeGemmKernel(a: EdgeGemmHost): void {
  const { rows, cols, out, weight: w, ldw, weightOffset: off } = a;
  const K = checkEdgeSource("edgeGemm", a, cols, { ld: ldw, offset: off, length: w.length });
  if (out.length < rows * cols) {
    throw new RangeError(`edgeGemm: out ${out.length} < ${rows}×${cols}`);
  }
  const u = new Float32Array(BLOCK * K);
  const wt = new Float64Array(K * cols); // W_u transposed: the inner loop runs over k
  for (let c = 0; c < cols; c++) for (let k = 0; k < K; k++) wt[c * K + k] = w[c * ldw + off + k];
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const n = Math.min(BLOCK, rows - r0);
    expandBlock(a, r0, n, K, u);
    for (let r = 0; r < n; r++) {
      const uo = r * K, zo = (r0 + r) * cols;
      for (let c = 0; c < cols; c++) {
        let acc = 0;
        const wo = c * K;
        for (let k = 0; k < K; k++) acc += u[uo + k] * wt[wo + k];
        out[zo + c] = acc;
      }
    }
  }
}

/** `dW[c, off + k] (+)= Σ_r dz[r, c] · u[r, k]`, summed in float64. */
export function edgeGemmWeightGradKernel(a: EdgeGemmWeightGradHost): void {
  const { rows, cols, dz, dWeight: dw, ldw, weightOffset: off } = a;
  const K = checkEdgeSource("edgeGemmWeightGrad", a, cols, {
    ...{ ld: ldw, offset: off, length: dw.length },
  });
  if (dz.length < rows * cols) {
    throw new RangeError(`edgeGemmWeightGrad: dz ${dz.length} < ${rows}×${cols}`);
  }
  const u = new Float32Array(BLOCK * K), acc = new Float64Array(cols * K);
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const n = Math.min(BLOCK, rows - r0);
    expandBlock(a, r0, n, K, u);
    for (let r = 0; r < n; r++) {
      const uo = r * K, go = (r0 + r) * cols;
      for (let c = 0; c < cols; c++) {
        const g = dz[go + c];
        if (g === 0) continue;
        const ao = c * K;
        for (let k = 0; k < K; k++) acc[ao + k] += g * u[uo + k];
      }
    }
  }
  for (let c = 0; c < cols; c++) {
    for (let k = 0; k < K; k++) {
      const o = c * ldw + off + k;
      dw[o] = a.accumulate ? dw[o] + acc[c * K + k] : acc[c * K + k];
    }
  }
}
