/**
 * The sharded loader of data-parallel runs reads and featurizes with the same options as the
 * one-process loader (one `dataOptions`): with every shard held by one process it yields the
 * same graphs, for the default and for CGCNN's neighbour truncation.
 */
import assert from "node:assert/strict";
import { loadTrainingData } from "../../lib/train/data.ts";
import { loadShardedData } from "../../lib/train/shard_data.ts";
import { LocalCommunicator } from "../../lib/distributed/communicator.ts";
import type { GraphSet } from "../../lib/crystal/types.ts";

function sortedEdgeCounts(g: GraphSet): Map<string, number> {
  const out = new Map<string, number>();
  for (let c = 0; c < g.count; c++) {
    const a0 = g.atomOffsets[c], a1 = g.atomOffsets[c + 1];
    out.set(g.ids[c], g.edgeOffsets[a1] - g.edgeOffsets[a0]);
  }
  return out;
}

for (const neighborTies of ["include", "truncate"] as const) {
  Deno.test(`sharded loader = one-process loader (neighborTies ${neighborTies})`, async () => {
    const c = { data: "synthetic:80", cacheDir: null, quiet: true, neighborTies };
    const one = await loadTrainingData(c);
    const sharded = await loadShardedData(c, 2, [0, 1], true, new LocalCommunicator());
    // Same split and same graphs: compare the edge count of every crystal, by id.
    for (const [a, b] of [[one.train, sharded.train], [one.val, sharded.val]] as const) {
      assert.deepEqual(sortedEdgeCounts(b), sortedEdgeCounts(a));
    }
    assert.equal(sharded.test.count, one.test.count);
  });
}

Deno.test("sharded loader: tie handling reaches the featurizer (include ≠ truncate on tied cells)", async () => {
  const base = { data: "synthetic:80", cacheDir: null, quiet: true };
  const comm = new LocalCommunicator();
  const inc = await loadShardedData({ ...base, neighborTies: "include" }, 1, [0], false, comm);
  const tru = await loadShardedData({ ...base, neighborTies: "truncate" }, 1, [0], false, comm);
  assert.ok(inc.train.neighbors.length > tru.train.neighbors.length);
});
