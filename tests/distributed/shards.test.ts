import assert from "node:assert/strict";
import { BatchPlan, shardEpochOrder, shardRange } from "../../lib/distributed/shards.ts";
import { Rng } from "../../lib/util/random.ts";

Deno.test("shardRange: contiguous, covering, sizes differ by at most one", () => {
  for (const [n, P] of [[10, 3], [7, 7], [100, 8], [5, 1]]) {
    let next = 0;
    const sizes: number[] = [];
    for (let r = 0; r < P; r++) {
      const { start, end } = shardRange(n, P, r);
      assert.equal(start, next);
      next = end;
      sizes.push(end - start);
    }
    assert.equal(next, n);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
  }
  assert.throws(() => shardRange(10, 2, 2), /shard index 2 outside 0..1/);
});

Deno.test("BatchPlan: one shard is the ordinary batching; P shards give every process crystals", () => {
  const one = new BatchPlan([103], 10);
  assert.equal(one.steps, 11);
  assert.deepEqual(one.stepCounts(10), [3]);
  const two = new BatchPlan([52, 51], 10);
  assert.deepEqual(two.localBatch, [5, 5]);
  assert.equal(two.steps, 11); // ceil(51/5) = 11, ceil(52/5) = 11
  assert.deepEqual(two.stepCounts(10), [2, 1]);
  for (let s = 0; s < two.steps; s++) assert.ok(two.stepCounts(s).every((c) => c >= 1));
  const three = new BatchPlan([4, 4, 3], 7);
  assert.deepEqual(three.localBatch, [3, 2, 2]);
  assert.equal(three.steps, 2);
  assert.throws(() => new BatchPlan([5, 5], 1), /smaller than the 2 processes/);
  assert.throws(() => new BatchPlan([5, 0], 4), /shard 1 has no training crystals/);
});

Deno.test("shardEpochOrder: one shard replays the trainer's epoch stream; shards differ", () => {
  const want = new Rng(4, 1000 + 3).shuffle(new Int32Array(20).map((_, i) => i));
  assert.deepEqual(Array.from(shardEpochOrder(20, 4, 3, 0, 1)), Array.from(want));
  const a = shardEpochOrder(20, 4, 3, 0, 2), b = shardEpochOrder(20, 4, 3, 1, 2);
  assert.notDeepEqual(Array.from(a), Array.from(b));
  assert.deepEqual(Array.from(a).sort((x, y) => x - y), [...Array(20).keys()]);
});
