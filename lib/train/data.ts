/**
 * Training data: load the sources, featurize (with the graph cache), split, and report.
 * @module
 */

import { type AtomFeatureTable, loadAtomInit } from "../crystal/atom_features.ts";
import { detectFormat, type LoadDatasetOptions } from "../data/dataset.ts";
import { type FeaturizeOptions, loadGraphs } from "../data/featurize.ts";
import { splitIndices, subsetGraphs } from "../graph/subset.ts";
import type { GraphSet, SkippedEntry } from "../crystal/types.ts";
import { checkSplit, type DataConfig, TRAIN_DEFAULTS } from "./config.ts";

export type { DataConfig } from "./config.ts";

/**
 * The three graph sets of a run.
 *
 * @example
 * ```ts
 * import { train, type TrainingData } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 2 });
 * const data: TrainingData = run.data;
 * console.log(data.train.count, data.val.count, data.test.count); // 160 20 20
 * run.model.dispose();
 * ```
 */
export interface TrainingData {
  /** Training graphs. */
  train: GraphSet;
  /** Validation graphs. */
  val: GraphSet;
  /** Test graphs (may be empty). */
  test: GraphSet;
  /** Structures left out while loading. */
  skipped: SkippedEntry[];
  /** Atom feature table of the source (CGCNN folder `atom_init.json`), if any. */
  atomFeatures?: AtomFeatureTable;
}

/**
 * The reader and featurizer options a data configuration implies — one place for the
 * one-process loader and the sharded one of data-parallel runs — after checking that every
 * source exists (a wrong `--test-data` fails before anything is loaded). `--atom-init`
 * (CGCNN's `atom_init.json` for any source) is loaded here; structures with an element it
 * lacks are skipped when reading, naming the element.
 */
export async function dataOptions(c: DataConfig): Promise<{
  atomFeatures?: AtomFeatureTable;
  read: LoadDatasetOptions;
  featurize: FeaturizeOptions;
}> {
  for (const source of [c.data, c.valData, c.testData]) {
    if (source) await detectFormat(source, c.format);
  }
  const atomFeatures = c.atomInit ? await loadAtomInit(c.atomInit) : undefined;
  return {
    atomFeatures,
    read: {
      atomFeatures,
      format: c.format,
      target: c.target,
      idColumn: c.idColumn,
      positions: c.positions,
      occupancy: c.occupancy,
      limit: c.limit,
      quiet: c.quiet,
    },
    featurize: {
      radius: c.radius,
      maxNeighbors: c.maxNeighbors,
      neighborTies: c.neighborTies,
      cacheDir: c.cacheDir,
      quiet: c.quiet,
    },
  };
}

/**
 * The seeded train/val/test split of `n` structures of the main source. Fractions of the
 * parts given as separate files are dropped and the rest renormalised (e.g. `--test-data`
 * with the default split gives train/val 8:1).
 */
export function splitParts(
  n: number,
  c: DataConfig,
  valGiven: boolean,
  testGiven: boolean,
): Int32Array[] {
  const [fTrain, fVal, fTest] = checkSplit(c.split ?? TRAIN_DEFAULTS.split);
  const parts = [fTrain, valGiven ? 0 : fVal, testGiven ? 0 : fTest];
  const total = parts.reduce((a, b) => a + b, 0);
  return splitIndices(n, parts.map((p) => p / total), c.splitSeed ?? c.seed ?? TRAIN_DEFAULTS.seed);
}

/**
 * Loads and splits the data. Fractions for the parts given as separate files are dropped and
 * the rest renormalised (e.g. `--test-data` with the default split gives train/val 8:1).
 */
export async function loadTrainingData(c: DataConfig): Promise<TrainingData> {
  const { atomFeatures: table, read, featurize } = await dataOptions(c);
  const opts = { ...read, ...featurize };
  const main = await loadGraphs(c.data, opts);
  const skipped = [...main.skipped];
  const other = async (source: string | undefined) => {
    if (!source) return null;
    const r = await loadGraphs(source, opts);
    skipped.push(...r.skipped);
    return r.graphs;
  };
  const valGiven = await other(c.valData);
  const testGiven = await other(c.testData);
  const [trainIdx, valIdx, testIdx] = splitParts(main.graphs.count, c, !!valGiven, !!testGiven);
  const data: TrainingData = {
    train: subsetGraphs(main.graphs, trainIdx),
    val: valGiven ?? subsetGraphs(main.graphs, valIdx),
    test: testGiven ?? subsetGraphs(main.graphs, testIdx),
    skipped,
    atomFeatures: table ?? main.atomFeatures,
  };
  if (data.train.count < 2) {
    throw new RangeError(
      `${c.data}: only ${data.train.count} training structure(s) after the split; need at least 2`,
    );
  }
  if (data.val.count < 1) {
    throw new RangeError(
      `no validation structures: give --val-data or a split with a validation share`,
    );
  }
  return data;
}
