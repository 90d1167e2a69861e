/**
 * NumPy `.npy` files (format version 1.0): a float32 matrix, little-endian, C order, so
 * `numpy.load("out.npy")` reads it as an array of shape `[rows, cols]`.
 * @module
 */

import { writeFileAtomic } from "./atomic.ts";

/** The bytes of a `.npy` file holding `values` as a `[rows, cols]` float32 matrix. */
export function npyBytes(values: Float32Array, rows: number, cols: number): Uint8Array {
  if (rows * cols !== values.length) {
    throw new RangeError(`npy: ${values.length} values are not ${rows} × ${cols}`);
  }
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Magic (6) + version (2) + header length (2) + header + "\n", padded to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + values.byteLength);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const body = new DataView(out.buffer, total);
  for (let i = 0; i < values.length; i++) body.setFloat32(4 * i, values[i], true);
  return out;
}

/** Writes `values` as a `[rows, cols]` float32 `.npy` file (atomically). */
export function writeNpy(
  path: string,
  values: Float32Array,
  rows: number,
  cols: number,
): Promise<void> {
  return writeFileAtomic(path, npyBytes(values, rows, cols));
}
