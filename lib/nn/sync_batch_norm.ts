/**
 * Batch statistics over the global batch of a data-parallel run (SyncBN): each process holds
 * some rows; the column sums and row count are summed over processes, then the centred sums
 * of squares around the global mean (two passes, like the one-process kernel, so the
 * variance does not cancel the way E[x²] − E[x]² can).
 * @module
 */

/**
 * Mean and biased variance `[cols]` of the rows of every process, and the global row count.
 * `sum` sums a float64 buffer over all processes in place (an identity in one process).
 */
export function globalBatchMoments(
  x: Float32Array,
  rows: number,
  cols: number,
  sum: (buf: Float64Array) => void,
): { mean: Float32Array; variance: Float32Array; count: number } {
  const s = new Float64Array(cols + 1);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) s[j] += x[o + j];
  }
  s[cols] = rows;
  sum(s);
  const count = s[cols];
  const mean64 = new Float64Array(cols);
  for (let j = 0; j < cols; j++) mean64[j] = s[j] / count;
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const d = x[o + j] - mean64[j];
      sq[j] += d * d;
    }
  }
  sum(sq);
  const variance = new Float32Array(cols);
  for (let j = 0; j < cols; j++) variance[j] = sq[j] / count;
  return { mean: Float32Array.from(mean64), variance, count };
}
