import assert from "node:assert/strict";
import { cartesian } from "../../lib/crystal/lattice.ts";
import { neighborList } from "../../lib/crystal/neighbors.ts";
import {
  randomlyRotateStructure,
  randomlyShiftGraphs,
  randomlyShiftOrigin,
  randomOrthogonal,
  rotateStructure,
  shiftOrigin,
  transformStructure,
} from "../../lib/crystal/transform.ts";
import type { Structure } from "../../lib/crystal/types.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { Rng } from "../../lib/util/random.ts";

function structures(n: number): Structure[] {
  const ds = syntheticCrystals({ count: n, seed: 9 });
  return Array.from({ length: n }, (_, i) => ds.get(i).structure);
}

Deno.test("rotate: a rigid O(3) rotation of the axes leaves fractional coordinates unchanged", () => {
  const rng = new Rng(4);
  for (const s0 of structures(20)) {
    // unwrapped fractional coordinates must survive as they are too
    const s = { ...s0, frac: s0.frac.map((f, i) => f + (i % 5) - 2) };
    const R = randomOrthogonal(rng);
    const r = rotateStructure(s, R);
    assert.deepEqual(r.frac, s.frac); // bit for bit
    assert.deepEqual(r.numbers, s.numbers);
    // Cartesian positions rotate with the lattice: X' = X·R (float64 reference)
    const X = cartesian(s), Y = cartesian(r);
    for (let i = 0; i < X.length / 3; i++) {
      for (let k = 0; k < 3; k++) {
        const want = X[3 * i] * R[k] + X[3 * i + 1] * R[3 + k] + X[3 * i + 2] * R[6 + k];
        assert.ok(Math.abs(Y[3 * i + k] - want) < 1e-12 * (1 + Math.abs(want)));
      }
    }
    assert.deepEqual(transformStructure(s, R).frac, s.frac, "no shift: no wrapping either");
    const rr = randomlyRotateStructure(s, new Rng(1));
    assert.deepEqual(rr.frac, s.frac);
    const det = (m: Float64Array) =>
      m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
      m[2] * (m[3] * m[7] - m[4] * m[6]);
    assert.ok(Math.abs(Math.abs(det(rr.lattice)) - Math.abs(det(s.lattice))) < 1e-9);
  }
});

Deno.test("shift origin: atoms wrapped into the cell; the periodic graph is unchanged", () => {
  const rng = new Rng(6);
  for (const s of structures(12)) {
    const t = randomlyShiftOrigin(s, rng);
    assert.ok(t.frac.every((f) => f >= 0 && f < 1));
    assert.deepEqual(t.lattice, s.lattice);
    const a = neighborList(s), b = neighborList(t);
    assert.deepEqual(a.offsets, b.offsets);
    for (let e = 0; e < a.distances.length; e++) {
      assert.ok(Math.abs(a.distances[e] - b.distances[e]) < 1e-9);
    }
    const back = shiftOrigin(t, [0, 0, 0]);
    assert.deepEqual(back.frac, t.frac);
  }
});

Deno.test("randomlyShiftGraphs: positions move by lattice vectors + one shift, graph kept", async () => {
  const ss = structures(15);
  const { graphs } = await featurize({
    length: ss.length,
    skipped: [],
    get: (i) => ({ id: ss[i].id, structure: ss[i], target: 0 }),
  }, { cacheDir: null, quiet: true });
  const moved = randomlyShiftGraphs(graphs, 3);
  assert.deepEqual(moved.vectors, graphs.vectors);
  assert.deepEqual(moved.neighbors, graphs.neighbors);
  assert.deepEqual(moved.lattices, graphs.lattices);
  for (let c = 0; c < graphs.count; c++) {
    const frac = (x: Float64Array, a: number) => {
      // solve f·L = x by Cramer's rule (independent of the implementation's inverse)
      const L = Array.from(graphs.lattices.subarray(9 * c, 9 * c + 9));
      const det = (m: number[]) =>
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
        m[2] * (m[3] * m[7] - m[4] * m[6]);
      const d = det(L);
      return [0, 1, 2].map((r) => {
        const m = L.slice();
        m[3 * r] = x[3 * a], m[3 * r + 1] = x[3 * a + 1], m[3 * r + 2] = x[3 * a + 2];
        return det(m) / d;
      });
    };
    let shift: number[] | null = null;
    for (let a = graphs.atomOffsets[c]; a < graphs.atomOffsets[c + 1]; a++) {
      const f0 = frac(graphs.positions, a), f1 = frac(moved.positions, a);
      assert.ok(f1.every((f) => f > -1e-9 && f < 1 + 1e-9), `crystal ${c}: ${f1}`);
      const d = f1.map((f, k) => f - f0[k]);
      const frc = d.map((x) => x - Math.floor(x + 1e-9));
      if (shift === null) shift = frc;
      else {
        for (let k = 0; k < 3; k++) {
          const diff = Math.abs(frc[k] - shift[k]);
          assert.ok(Math.min(diff, 1 - diff) < 1e-9, `crystal ${c} atom ${a}: one shift for all`);
        }
      }
    }
  }
});
