/**
 * Gather / scatter / segment kernels on the CPU: the message-passing primitives.
 * @module
 */

/** Throws a RangeError naming the bad index (out-of-range rows would be silently wrong). */
export function checkIndex(name: string, index: Int32Array, i: number, nRows: number): void {
  const v = index[i];
  if (!(v >= 0 && v < nRows)) {
    throw new RangeError(`${name}: index[${i}] = ${v} is outside [0, ${nRows})`);
  }
}

/** Throws a RangeError unless `offsets` is non-decreasing from ≥ 0 up to ≤ `nRows`. */
export function checkOffsets(
  name: string,
  offsets: Int32Array,
  nSegments: number,
  nRows: number,
): void {
  if (offsets.length < nSegments + 1) {
    throw new RangeError(`${name}: ${offsets.length} offsets for ${nSegments} segments`);
  }
  let prev = 0;
  for (let s = 0; s <= nSegments; s++) {
    const v = offsets[s];
    if (v < prev || v > nRows) {
      throw new RangeError(
        `${name}: offsets[${s}] = ${v} (offsets must rise from 0 to at most ${nRows} rows)`,
      );
    }
    prev = v;
  }
}

/** Checks every index of `index[0..n)` against `nRows` (before a native kernel trusts them). */
export function checkIndices(name: string, index: Int32Array, n: number, nRows: number): void {
  if (index.length < n) throw new RangeError(`${name}: ${index.length} indices, ${n} needed`);
  for (let i = 0; i < n; i++) checkIndex(name, index, i, nRows);
}

/** `out[i, :] = src[index[i], :]`. */
export function gatherRowsKernel(
  src: Float32Array,
  index: Int32Array,
  out: Float32Array,
  nIndex: number,
  cols: number,
): void {
  const nSrc = cols > 0 ? src.length / cols : Infinity;
  for (let i = 0; i < nIndex; i++) {
    checkIndex("gatherRows", index, i, nSrc);
    const s = index[i] * cols;
    out.set(src.subarray(s, s + cols), i * cols);
  }
}

/** `out[index[i], :] += src[i, :]`. */
export function scatterAddRowsKernel(
  src: Float32Array,
  index: Int32Array,
  out: Float32Array,
  nIndex: number,
  cols: number,
): void {
  const nOut = cols > 0 ? out.length / cols : Infinity;
  for (let i = 0; i < nIndex; i++) {
    checkIndex("scatterAddRows", index, i, nOut);
    const o = index[i] * cols;
    const s = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] += src[s + j];
  }
}

/** Sum (or mean) of the rows of each CSR segment. */
export function segmentReduceKernel(
  src: Float32Array,
  offsets: Int32Array,
  out: Float32Array,
  nSegments: number,
  cols: number,
  mean: boolean,
): void {
  checkOffsets("segmentReduce", offsets, nSegments, cols > 0 ? src.length / cols : Infinity);
  const acc = new Float64Array(cols);
  for (let s = 0; s < nSegments; s++) {
    const r0 = offsets[s], r1 = offsets[s + 1];
    acc.fill(0);
    for (let r = r0; r < r1; r++) {
      const o = r * cols;
      for (let j = 0; j < cols; j++) acc[j] += src[o + j];
    }
    const scale = mean && r1 > r0 ? 1 / (r1 - r0) : 1;
    const o = s * cols;
    for (let j = 0; j < cols; j++) out[o + j] = acc[j] * scale;
  }
}

/** Broadcast each segment's row to all rows of the segment (÷ length when `mean`). */
export function segmentExpandKernel(
  g: Float32Array,
  offsets: Int32Array,
  out: Float32Array,
  nSegments: number,
  cols: number,
  mean: boolean,
): void {
  checkOffsets("segmentExpand", offsets, nSegments, cols > 0 ? out.length / cols : Infinity);
  for (let s = 0; s < nSegments; s++) {
    const r0 = offsets[s], r1 = offsets[s + 1];
    const row = g.subarray(s * cols, (s + 1) * cols);
    if (!mean) {
      for (let r = r0; r < r1; r++) out.set(row, r * cols);
      continue;
    }
    const scale = 1 / (r1 - r0);
    for (let r = r0; r < r1; r++) {
      const o = r * cols;
      for (let j = 0; j < cols; j++) out[o + j] = row[j] * scale;
    }
  }
}

/** Column sums of `[rows, cols]` (float64 accumulation). */
export function sumRowsKernel(
  x: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
): void {
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) acc[j] += x[o + j];
  }
  for (let j = 0; j < cols; j++) out[j] = acc[j];
}
