/**
 * The entry points `mod.ts` exports whose results display themselves in a Deno notebook:
 * each calls the plain function of its layer and attaches the display (`attach.ts`). Importing
 * this module also gives tensors their display. Outside the kernel nothing changes: the
 * display methods are non-enumerable and never called.
 * @module
 */

import { type CifOptions, parseCif as parseCifPlain } from "../crystal/cif.ts";
import type { Dataset, Structure } from "../crystal/types.ts";
import {
  loadDataset as loadDatasetPlain,
  type LoadDatasetOptions,
  type LoadedDataset,
} from "../data/dataset.ts";
import { syntheticCrystals as syntheticCrystalsPlain } from "../data/synthetic.ts";
import {
  type ExperimentConfig,
  type ExperimentResult,
  runExperiment as runExperimentPlain,
} from "../train/experiment.ts";
import {
  train as trainPlain,
  type TrainConfig,
  type TrainHooks,
  type TrainResult,
} from "../train/trainer.ts";
import {
  installTensorDisplay,
  withDatasetDisplay,
  withDisplay,
  withExperimentDisplay,
  withTrainingDisplay,
} from "./attach.ts";

installTensorDisplay();

/**
 * Parses the first data block that has atom sites into a {@linkcode Structure} (cell, atom
 * sites, symmetry expansion, duplicates merged); throws a `CifError` naming the id, the line
 * and what is wrong. In a Deno notebook the structure shows a 3-D view of itself.
 *
 * @example
 * ```ts
 * import { formula, parseCif } from "@facgcnn/toolkit";
 * const s = parseCif(await Deno.readTextFile("NaCl.cif"));
 * console.log(formula(s), s.numbers.length);
 * s; // in a Deno notebook: 3-D view of the cell
 * ```
 */
export function parseCif(text: string, options: CifOptions = {}): Structure {
  return withDisplay(parseCifPlain(text, options));
}

/**
 * `count` synthetic crystals with a formation-energy-like target, deterministic for `seed`
 * (crystal i is generated on first `get(i)` from its own random stream, then kept unless
 * `cache: false`). In a Deno notebook each structure shows a 3-D view of itself.
 *
 * @example
 * ```ts
 * import { syntheticCrystals } from "@facgcnn/toolkit";
 * const data = syntheticCrystals({ count: 1000, seed: 0 });
 * const { id, structure, target } = data.get(0); // generated on first access, then cached
 * console.log(id, structure.numbers.length, target);
 * ```
 */
export function syntheticCrystals(
  options: { count: number; seed: number; cache?: boolean },
): Dataset {
  return withDatasetDisplay(syntheticCrystalsPlain(options));
}

/**
 * Loads a labelled data set: a CGCNN folder, a `.csv` with a `cif` column, an `.h5`/`.hdf5`
 * file, or `synthetic:N` / `synthetic:N:seed`. Bad structures are skipped and listed in
 * `skipped` with the reason (or throw a `DatasetError` with `strict: true`). In a Deno notebook
 * each structure shows a 3-D view of itself.
 *
 * @example
 * ```ts
 * import { loadDataset } from "@facgcnn/toolkit";
 * const data = await loadDataset("synthetic:100"); // or a CGCNN folder, a CSV-with-CIF, an HDF5 file
 * const { id, structure, target } = data.get(0);
 * console.log(data.length, id, structure.numbers.length, target);
 * ```
 */
export async function loadDataset(
  source: string,
  options: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  return withDatasetDisplay(await loadDatasetPlain(source, options));
}

/**
 * Trains a model as configured (what `deno task train` runs); writes everything into
 * `config.out`. In a Deno notebook the result shows its learning curves.
 *
 * @example
 * ```ts
 * import { train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:500", model: "facgcnn", epochs: 5, atomFeaLen: 32 });
 * console.log(run.bestEpoch, run.test); // { mae, rmse, r2, n }
 * run; // in a Deno notebook: learning curves
 * run.model.dispose();
 * ```
 */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  return withTrainingDisplay(await trainPlain(config, hooks));
}

/**
 * Runs the experiment of the FACGCNN paper's tables; writes `results.json`, `results.md`,
 * `results.html` and the run folders. In a Deno notebook the result shows its table.
 *
 * @example
 * ```ts
 * import { runExperiment } from "@facgcnn/toolkit";
 * const result = await runExperiment({ data: "synthetic:500", seeds: 3, epochsList: [5, 10], atomFeaLen: 32 });
 * console.log(result.out); // results.md, results.json, results.html and the runs
 * result; // in a Deno notebook: the table
 * ```
 */
export async function runExperiment(
  config: ExperimentConfig,
  hooks: TrainHooks = {},
): Promise<ExperimentResult> {
  return withExperimentDisplay(await runExperimentPlain(config, hooks));
}
