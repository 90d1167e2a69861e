/**
 * Backward of BatchNorm with statistics over the whole global batch of a data-parallel run
 * (SyncBN, as in PyTorch's `SyncBatchNorm`): the batch sums Σdy and Σdy·x̂ that the gradient
 * of x needs are summed over all processes, so each process's dx is the single-process dx of
 * its rows. The parameter gradients stay local sums (the trainer sums them with the others).
 * Host float64 arithmetic, the same formula as the CPU kernel.
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";

/**
 * dx = γ·invStd/N · (N·dy − ΣΣdy − x̂·ΣΣ(dy·x̂)), N and the double sums over every process;
 * returns dx, dγ = Σ_local dy·x̂, dβ = Σ_local dy as host arrays (`[rows·cols]`, `[cols]`).
 */
export function syncBatchNormBackward(
  b: Backend,
  storages: { x: Storage; dy: Storage; mean: Storage; variance: Storage; gamma: Storage },
  rows: number,
  cols: number,
  eps: number,
  sum: (buf: Float64Array) => void,
): { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array } {
  const x = b.download(storages.x) as Float32Array;
  const dy = b.download(storages.dy) as Float32Array;
  const mean = b.download(storages.mean) as Float32Array;
  const variance = b.download(storages.variance) as Float32Array;
  const gamma = b.download(storages.gamma) as Float32Array;
  const invStd = new Float64Array(cols);
  for (let j = 0; j < cols; j++) invStd[j] = 1 / Math.sqrt(variance[j] + eps);
  // [Σdy (cols), Σdy·x̂ (cols), rows]
  const sums = new Float64Array(2 * cols + 1);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const g = dy[o + j];
      sums[j] += g;
      sums[cols + j] += g * (x[o + j] - mean[j]) * invStd[j];
    }
  }
  sums[2 * cols] = rows;
  const dBeta = Float32Array.from(sums.subarray(0, cols));
  const dGamma = Float32Array.from(sums.subarray(cols, 2 * cols));
  sum(sums);
  const n = sums[2 * cols];
  const dx = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[o + j] - mean[j]) * invStd[j];
      dx[o + j] = (gamma[j] * invStd[j] / n) * (n * dy[o + j] - sums[j] - xhat * sums[cols + j]);
    }
  }
  return { dx, dGamma, dBeta };
}
