/**
 * Crystals on which frames are fragile, for the device-frame parity tests (the host build in
 * tests/cuda/frames_host.test.ts, the GPU in tests/gpu/frames_build.test.ts): cubic cells with
 * exactly tied eigenvalues (simple cubic, FCC, BCC, perovskite), the same far from the origin,
 * tetragonal (two tied), strains of 1e-12 to 2e-2 around the 1e-2 gap tolerance, rotated cubic
 * cells (tied in exact arithmetic, broken only by rounding), one-atom, empty, collinear and
 * singular-cell crystals, and random synthetic crystals.
 * @module
 */
import { Rng } from "../../lib/util/random.ts";
import { syntheticGraphs } from "../models/_fixtures.ts";

/** One crystal: Cartesian positions and cell rows, flat. */
export interface Crystal {
  positions: number[];
  lattice: number[];
}

/** A random rotation (unit quaternion), row-major, applied as x·R. */
function rotation(rng: Rng): number[] {
  let [a, b, c, d] = [rng.next() - 0.5, rng.next() - 0.5, rng.next() - 0.5, rng.next() - 0.5];
  const n = Math.hypot(a, b, c, d);
  [a, b, c, d] = [a / n, b / n, c / n, d / n];
  return [
    ...[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    ...[2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
    ...[2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
  ];
}

function times(rows: number[], r: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      out.push(rows[i] * r[k] + rows[i + 1] * r[3 + k] + rows[i + 2] * r[6 + k]);
    }
  }
  return out;
}

/** Fractional sites in a cell `[a, b, c]` (lengths), Cartesian rows, shifted by `origin`. */
function cell(frac: number[], abc: [number, number, number], origin = 0): Crystal {
  const positions = frac.map((f, i) => f * abc[i % 3] + origin);
  const lattice = [abc[0], 0, 0, 0, abc[1], 0, 0, 0, abc[2]];
  return { positions, lattice };
}

const SC = [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1].map((x) =>
  x / 2
);
const FCC = [0, 0, 0, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5];
const BCC = [0, 0, 0, 0.5, 0.5, 0.5];
const PEROVSKITE = [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5];

/** The list described in the module note. */
export async function crystals(): Promise<Crystal[]> {
  const rng = new Rng(7);
  const list: Crystal[] = [];
  for (const frac of [SC, FCC, BCC, PEROVSKITE]) {
    list.push(cell(frac, [4, 4, 4]));
    list.push(cell(frac, [4, 4, 4], 1000)); // |t| ≫ spread
    list.push(cell(frac, [4, 4, 5])); // tetragonal: two tied
    for (const strain of [1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 5e-3, 1e-2, 2e-2]) {
      list.push(cell(frac, [4, 4 * (1 + strain), 4 * (1 + 2.5 * strain)]));
    }
    for (let r = 0; r < 4; r++) {
      // Rotated: tied in exact arithmetic, broken only by the rounding of the rotation.
      const c = cell(frac, [4, 4, 4]), R = rotation(rng);
      list.push({ positions: times(c.positions, R), lattice: times(c.lattice, R) });
    }
  }
  list.push({ positions: [1, 2, 3], lattice: [3, 0, 0, 0, 3, 0, 0, 0, 3] }); // one atom
  list.push({ positions: [], lattice: [3, 0, 0, 0, 3, 0, 0, 0, 3] }); // empty
  list.push({ positions: [0, 0, 0, 1, 1, 1], lattice: [0, 0, 0, 0, 0, 0, 0, 0, 0] }); // singular
  list.push({ positions: [0, 0, 0, 1, 2, 3, 2, 4, 6], lattice: [1, 2, 3, 2, 4, 6, 0, 0, 1] });
  list.push({ positions: [0.1, 0, 0, 2, 0.3, 0], lattice: [NaN, 0, 0, 0, 1, 0, 0, 0, 1] });
  const g = await syntheticGraphs(24, 3);
  for (let c = 0; c < g.count; c++) {
    const lo = g.atomOffsets[c], hi = g.atomOffsets[c + 1];
    list.push({
      positions: [...g.positions.subarray(3 * lo, 3 * hi)],
      lattice: [...g.lattices.subarray(9 * c, 9 * c + 9)],
    });
  }
  return list;
}

/** The crystals as batch arrays. */
export async function fragileBatch(): Promise<
  { positions: Float64Array; ranges: Int32Array; lattices: Float64Array; count: number }
> {
  const list = await crystals();
  const ranges = new Int32Array(list.length + 1);
  list.forEach((x, i) => ranges[i + 1] = ranges[i] + x.positions.length / 3);
  return {
    positions: Float64Array.from(list.flatMap((x) => x.positions)),
    ranges,
    lattices: Float64Array.from(list.flatMap((x) => x.lattice)),
    count: list.length,
  };
}
