/**
 * BatchNorm over rows (PyTorch's `BatchNorm1d` on `[rows, cols]`), float64 statistics.
 * @module
 */

import type { BatchNormArgs, BatchNormBackwardArgs } from "../backend.ts";

/** Column mean and biased variance. */
export function columnMomentsKernel(
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  rows: number,
  cols: number,
): void {
  const sum = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) sum[j] += x[o + j];
  }
  for (let j = 0; j < cols; j++) sum[j] /= rows;
  // Two-pass variance: stable where E[x²] − E[x]² would cancel.
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const d = x[o + j] - sum[j];
      sq[j] += d * d;
    }
  }
  for (let j = 0; j < cols; j++) {
    mean[j] = sum[j];
    variance[j] = sq[j] / rows;
  }
}

/** `out = (x − mean)/sqrt(var + eps)·gamma + beta`. */
export function batchNormForwardKernel(
  { x, mean, variance, gamma, beta, out, rows, cols, eps }: BatchNormArgs<Float32Array>,
): void {
  const scale = new Float64Array(cols);
  const shift = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    scale[j] = gamma[j] / Math.sqrt(variance[j] + eps);
    shift[j] = beta[j] - mean[j] * scale[j];
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] = x[o + j] * scale[j] + shift[j];
  }
}

/**
 * Backward. With batch statistics:
 * dx = γ·invStd/N · (N·dy − Σdy − x̂·Σ(dy·x̂)); otherwise dx = γ·invStd·dy.
 */
export function batchNormBackwardKernel(a: BatchNormBackwardArgs<Float32Array>): void {
  const { x, dy, mean, variance, gamma, dx, dGamma, dBeta, rows, cols, eps } = a;
  const invStd = new Float64Array(cols);
  for (let j = 0; j < cols; j++) invStd[j] = 1 / Math.sqrt(variance[j] + eps);
  const sumDy = new Float64Array(cols);
  const sumDyXhat = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const g = dy[o + j];
      sumDy[j] += g;
      sumDyXhat[j] += g * (x[o + j] - mean[j]) * invStd[j];
    }
  }
  for (let j = 0; j < cols; j++) {
    dGamma[j] = sumDyXhat[j];
    dBeta[j] = sumDy[j];
  }
  if (!a.batchStatistics) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let j = 0; j < cols; j++) dx[o + j] = gamma[j] * invStd[j] * dy[o + j];
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[o + j] - mean[j]) * invStd[j];
      dx[o + j] = (gamma[j] * invStd[j] / rows) *
        (rows * dy[o + j] - sumDy[j] - xhat * sumDyXhat[j]);
    }
  }
}
