/**
 * Host-side builder of the CSR that `fa_scatter_add_rows_csr_f32` takes: the deterministic
 * alternative to an atomic scatter-add. Built once per batch (the graph is on the host before
 * upload) and reused by every layer's backward pass.
 * @module
 */

/** A scatter index grouped by destination. */
export interface ScatterCsr {
  /** Source rows, stably sorted by destination: rows of destination d are `perm[offsets[d]..offsets[d+1])`. */
  perm: Int32Array;
  /** `nDst + 1` exclusive prefix sums of the destination counts. */
  offsets: Int32Array;
}

/**
 * Groups the rows of a scatter `index` (`out[index[i]] += src[i]`) by destination with a
 * counting sort: O(n + nDst), stable, so the device sums each destination in source order.
 * @param index `[n]` destination of each source row, each in `[0, nDst)`.
 * @param nDst number of destination rows.
 */
export function buildScatterCsr(index: Int32Array, nDst: number): ScatterCsr {
  const offsets = new Int32Array(nDst + 1);
  for (let i = 0; i < index.length; i++) {
    const d = index[i];
    if (!(d >= 0 && d < nDst)) {
      throw new RangeError(`scatter index ${d} at ${i} not in [0, ${nDst})`);
    }
    offsets[d + 1]++;
  }
  for (let d = 0; d < nDst; d++) offsets[d + 1] += offsets[d];
  const next = offsets.slice(0, nDst);
  const perm = new Int32Array(index.length);
  for (let i = 0; i < index.length; i++) perm[next[index[i]]++] = i;
  return { perm, offsets };
}
