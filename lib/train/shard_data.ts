/**
 * Training data of one process of a data-parallel run: the data set is read, split into
 * train/val/test entries with the run's split seed, and only this process's shards of the
 * training and validation entries are featurized (the neighbour search, the expensive part,
 * is divided among the processes). Shard r is the r-th contiguous part of the split's entry
 * order (see `shardRange`). The test set is featurized by rank 0 alone, which reports it.
 *
 * Unlike the one-process loader, which featurizes everything and then splits the graphs, the
 * split here is over data-set entries; a structure that cannot be featurized drops out of
 * its shard. A one-process run given the same shard count (`shards` in the configuration)
 * loads exactly the same shards.
 * @module
 */

import type { Communicator } from "../distributed/communicator.ts";
import { shardRange } from "../distributed/shards.ts";
import { loadDataset } from "../data/dataset.ts";
import { featurize } from "../data/featurize.ts";
import type { Dataset, GraphSet, SkippedEntry } from "../crystal/types.ts";
import type { AtomFeatureTable } from "../crystal/atom_features.ts";
import { subsetGraphs } from "../graph/subset.ts";
import { type DataConfig, dataOptions, splitParts } from "./data.ts";

/** The shards one process holds. */
export interface ShardedData {
  /** This process's training graphs: its shards concatenated in shard order. */
  train: GraphSet;
  /** Training graphs in every shard (all processes'), `[shards]`. */
  shardSizes: number[];
  /** This process's shards and where each starts in `train`. */
  own: { shard: number; start: number; count: number }[];
  /** This process's validation graphs (its shards of the validation entries). */
  val: GraphSet;
  /** Validation graphs over all processes. */
  valTotal: number;
  /** The test graphs on the process that evaluates them (rank 0), empty elsewhere. */
  test: GraphSet;
  /** Structures left out (this process's part). */
  skipped: SkippedEntry[];
  /** Atom feature table of the source (CGCNN folder `atom_init.json`), if any. */
  atomFeatures?: AtomFeatureTable;
}

function subsetDataset(ds: Dataset, indices: ArrayLike<number>, label: string): Dataset {
  return {
    length: indices.length,
    get: (i: number) => ds.get(indices[i]),
    skipped: [],
    source: `${ds.source ?? "data"}#${label}`,
  };
}

/** Indices of shards `own` of `entries` (each shard contiguous), concatenated. */
function ownEntries(entries: Int32Array, shards: number, own: readonly number[]): Int32Array[] {
  return own.map((s) => {
    const { start, end } = shardRange(entries.length, shards, s);
    return entries.subarray(start, end);
  });
}

/**
 * Loads shards `own` (of `shards`) of the training and validation entries; the test set when
 * `withTest`. Shard sizes are summed over `comm` (one all-reduce), so every process knows the
 * batch plan.
 */
export async function loadShardedData(
  c: DataConfig,
  shards: number,
  own: readonly number[],
  withTest: boolean,
  comm: Communicator,
): Promise<ShardedData> {
  const { atomFeatures, read: readOptions, featurize: featurizeOptions } = await dataOptions(c);
  const main = await loadDataset(c.data, readOptions);
  const skipped: SkippedEntry[] = [...main.skipped];
  const valDs = c.valData ? await loadDataset(c.valData, readOptions) : null;
  const testDs = c.testData && withTest ? await loadDataset(c.testData, readOptions) : null;
  const [trainIdx, valIdx, testIdx] = splitParts(main.length, c, !!c.valData, !!c.testData);

  // Training shards: featurized together, then cut at the shard boundaries (walking the ids,
  // since a structure that cannot be featurized is left out of its shard).
  const trainParts = ownEntries(trainIdx, shards, own);
  const trainEntries = Int32Array.from(trainParts.flatMap((p) => Array.from(p)));
  const label = `train shards ${own.join(",")}/${shards}`;
  const tr = await featurize(subsetDataset(main, trainEntries, label), featurizeOptions);
  skipped.push(...tr.skipped);
  const ownInfo: ShardedData["own"] = [];
  let g = 0;
  for (let k = 0; k < own.length; k++) {
    const start = g;
    for (const e of trainParts[k]) {
      if (g < tr.graphs.count && tr.graphs.ids[g] === main.get(e).id) g++;
    }
    ownInfo.push({ shard: own[k], start, count: g - start });
  }

  const valSource = valDs ?? main;
  const valEntries = valDs ? Int32Array.from({ length: valDs.length }, (_, i) => i) : valIdx;
  const valOwn = Int32Array.from(
    ownEntries(valEntries, shards, own).flatMap((p) => Array.from(p)),
  );
  const va = await featurize(
    subsetDataset(valSource, valOwn, `val shards ${own.join(",")}/${shards}`),
    featurizeOptions,
  );
  skipped.push(...va.skipped);

  let test = subsetGraphs(tr.graphs, new Int32Array(0));
  if (withTest) {
    const testSource = testDs ?? main;
    const testEntries = testDs ? Int32Array.from({ length: testDs.length }, (_, i) => i) : testIdx;
    if (testEntries.length > 0) {
      const te = await featurize(subsetDataset(testSource, testEntries, "test"), featurizeOptions);
      skipped.push(...te.skipped);
      test = te.graphs;
    }
  }

  // [train count of each shard..., validation count]
  const counts = new Float64Array(shards + 1);
  for (const o of ownInfo) counts[o.shard] = o.count;
  counts[shards] = va.graphs.count;
  comm.allreduceSum(counts);
  const shardSizes = Array.from(counts.subarray(0, shards));
  const empty = shardSizes.findIndex((n) => n < 1);
  if (empty >= 0) {
    throw new RangeError(
      `${c.data}: training shard ${empty} of ${shards} is empty (${trainIdx.length} training ` +
        `structures for ${shards} processes); use fewer processes or more data`,
    );
  }
  if (counts[shards] < 1) {
    throw new RangeError(
      `no validation structures: give --val-data or a split with a validation share`,
    );
  }
  return {
    train: tr.graphs,
    shardSizes,
    own: ownInfo,
    val: va.graphs,
    valTotal: counts[shards],
    test,
    skipped,
    atomFeatures: atomFeatures ?? main.atomFeatures,
  };
}
