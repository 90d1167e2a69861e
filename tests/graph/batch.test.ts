import assert from "node:assert/strict";
import { featurize } from "../../lib/data/featurize.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { collate, sliceBatch } from "../../lib/graph/batch.ts";

const { graphs } = await featurize(syntheticCrystals({ count: 12, seed: 3 }), {
  cacheDir: null,
  quiet: true,
});

Deno.test("collate: crystals in the given order, neighbours made global, edges intact", () => {
  const order = [7, 2, 11, 0];
  const b = collate(graphs, order);
  assert.equal(b.nCrystals, 4);
  assert.deepEqual(b.ids, order.map((c) => graphs.ids[c]));
  let atom = 0, edge = 0;
  for (let i = 0; i < order.length; i++) {
    const c = order[i];
    const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
    assert.equal(b.crystalOffsets[i], atom);
    assert.equal(b.targets[i], graphs.targets[c]);
    for (let a = a0; a < a1; a++, atom++) {
      assert.equal(b.numbers[atom], graphs.numbers[a]);
      for (let k = 0; k < 3; k++) {
        assert.equal(b.positions[3 * atom + k], graphs.positions[3 * a + k]);
      }
      const n = graphs.edgeOffsets[a + 1] - graphs.edgeOffsets[a];
      assert.equal(b.edgeOffsets[atom + 1] - b.edgeOffsets[atom], n);
      for (let e = graphs.edgeOffsets[a]; e < graphs.edgeOffsets[a + 1]; e++, edge++) {
        // Global neighbour = crystal's first atom in the batch + local index.
        assert.equal(b.neighbors[edge], b.crystalOffsets[i] + graphs.neighbors[e]);
        assert.equal(b.distances[edge], graphs.distances[e]);
        assert.ok(
          b.neighbors[edge] >= b.crystalOffsets[i] &&
            b.neighbors[edge] < b.crystalOffsets[i] + (a1 - a0),
        );
      }
    }
  }
  assert.equal(b.nAtoms, atom);
  assert.equal(b.nEdges, edge);
  assert.equal(b.crystalOffsets[4], atom);
});

Deno.test("collate: an index outside the set is a RangeError naming it", () => {
  assert.throws(
    () => collate(graphs, [0, 12]),
    (e: Error) => e instanceof RangeError && /12/.test(e.message),
  );
});

Deno.test("sliceBatch: a crystal range of a batch is the batch of those crystals", () => {
  const order = [7, 2, 11, 0, 5, 9];
  const whole = collate(graphs, order);
  for (const [start, end] of [[0, 6], [0, 2], [2, 5], [5, 6], [3, 3]]) {
    const got = sliceBatch(whole, start, end);
    const want = collate(graphs, order.slice(start, end));
    for (const key of Object.keys(want) as (keyof typeof want)[]) {
      const g = got[key], w = want[key];
      assert.deepEqual(
        ArrayBuffer.isView(g) ? Array.from(g as Float64Array) : g,
        ArrayBuffer.isView(w) ? Array.from(w as Float64Array) : w,
        `${key} of crystals ${start}..${end}`,
      );
    }
  }
  assert.throws(() => sliceBatch(whole, 2, 7), RangeError);
  assert.throws(() => sliceBatch(whole, 3, 2), RangeError);
});
