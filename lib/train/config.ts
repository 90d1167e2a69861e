/**
 * The training configuration: the one place where the defaults of a run are filled in and its
 * options checked, and where the command line takes its lists of valid choices. Model
 * choices and CGCNN's reference preset come from the model layer (`lib/models/config.ts`),
 * optimizer names from `lib/optim/create.ts`; this module adds the FACGCNN paper's preset
 * and the training, data and experiment defaults.
 * @module
 */

import type { DeviceChoice } from "../backend/select.ts";
import type { NeighborTies } from "../crystal/neighbors.ts";
import type { DatasetFormat } from "../data/dataset.ts";
import { type CoordinateInputs, DEFAULT_COORDINATES } from "../frames/scale.ts";
import type { FrameKind, FrameMode } from "../frames/select.ts";
import {
  CGCNN_REFERENCE_MODEL,
  MODEL_KINDS,
  MODEL_TASKS,
  type ModelConfig,
  type ModelDefaults,
  type ModelKind,
  type ModelTask,
  PREDICT_BATCH_SIZE,
  resolveModelConfig,
} from "../models/config.ts";
import { OPTIMIZER_KINDS } from "../optim/create.ts";
import type { OptimizerKind } from "../optim/optimizer.ts";

export {
  CGCNN_REFERENCE_MODEL,
  FRAME_KINDS,
  FRAME_MODE_WORDS,
  MODEL_KINDS,
  MODEL_TASKS,
  type ModelKind,
  type ModelTask,
  parseFrameMode,
} from "../models/config.ts";
export { OPTIMIZER_KINDS } from "../optim/create.ts";
export { NEIGHBOR_TIES } from "../crystal/neighbors.ts";

/** Devices (`--device`). */
export const DEVICE_CHOICES: readonly DeviceChoice[] = ["auto", "cpu", "cuda"];

/** Source formats (`--format`). */
export const DATASET_FORMATS: readonly DatasetFormat[] = [
  "auto",
  "cgcnn",
  "cif",
  "csv",
  "hdf5",
  "synthetic",
];

/** How HDF5 positions are stored (`--positions`). */
export const POSITION_KINDS = ["cartesian", "fractional"] as const;

/**
 * The trained variants: the paper's three (CGCNN, FACGCNN with the default frame
 * configuration, FACGCNN without frame averaging) and `"facgcnn-paper"`, FACGCNN exactly as
 * the paper describes it (PCA frames, raw Å coordinates on atoms and edges).
 *
 * @example
 * ```ts
 * import { type ExperimentVariant, runExperiment } from "@facgcnn/toolkit";
 * const variants: ExperimentVariant[] = ["cgcnn", "facgcnn"];
 * const result = await runExperiment({ data: "synthetic:200", seeds: 2, epochsList: [3], variants });
 * ```
 */
export type ExperimentVariant = "cgcnn" | "facgcnn" | "facgcnn-paper" | "facgcnn-nofa";

/** The trained variants (`--variants`). */
export const EXPERIMENT_VARIANTS: readonly ExperimentVariant[] = [
  "cgcnn",
  "facgcnn",
  "facgcnn-paper",
  "facgcnn-nofa",
];

/**
 * The training preset: CGCNN's reference preset with the paper's A = 128, and the measured
 * default FACGCNN frames: hybrid bases (PCA, the lattice where PCA is degenerate: exactly
 * invariant on every cell) and relative vectors in 10 Å units without node coordinates
 * (`DEFAULT_COORDINATES`; the paper's raw-Å inputs double CGCNN's error on real carbon).
 * The paper's frames: `frameKind: "pca"`, `coordinates: PAPER_COORDINATES` (experiment
 * variant `facgcnn-paper`). `train()` and `deno task train` use it; `createModel` keeps
 * `CGCNN_REFERENCE_MODEL` (A = 64, PCA, raw Å).
 */
export const FACGCNN_PAPER_MODEL: ModelDefaults = Object.freeze({
  ...CGCNN_REFERENCE_MODEL,
  atomFeaLen: 128,
  frameKind: "hybrid",
  coordinates: DEFAULT_COORDINATES,
});

/**
 * Weight decay each optimizer uses when none is given: 0 for Schedule-Free AdamW (Defazio et
 * al. 2024 leave it to the user) and SGD (CGCNN's default), 0.01 for AdamW (Loshchilov &
 * Hutter's decoupled decay, PyTorch's default). The optimizers apply these themselves; a test
 * checks that the two agree.
 */
export const DEFAULT_WEIGHT_DECAY: Readonly<Record<OptimizerKind, number>> = Object.freeze({
  "sf-adamw": 0,
  adamw: 0.01,
  sgd: 0,
});

/**
 * Defaults of a training run besides the model's (`FACGCNN_PAPER_MODEL`).
 */
export interface TrainDefaults {
  /** Data of `deno task train` without `--data`. */
  readonly data: string;
  /** Train/val/test fractions of `data`. */
  readonly split: readonly [number, number, number];
  /** Architecture. */
  readonly model: ModelKind;
  /** Epochs. */
  readonly epochs: number;
  /** The paper's batch size; the default is also capped to the data (`resolveBatchSize`). */
  readonly batchSize: number;
  /** Learning rate. */
  readonly lr: number;
  /** Optimizer. */
  readonly optimizer: OptimizerKind;
  /** SGD momentum. */
  readonly momentum: number;
  /** MultiStepLR milestones (AdamW, SGD). */
  readonly milestones: readonly number[];
  /** MultiStepLR factor. */
  readonly gamma: number;
  /** Device. */
  readonly device: DeviceChoice;
  /** Seed of initialisation, shuffling, frame draws and the split. */
  readonly seed: number;
  /** Training batches that re-estimate BatchNorm statistics at SF-AdamW's x. */
  readonly bnBatches: number;
  /** Crystals per forward pass when evaluating. */
  readonly evalBatchSize: number;
}

/** The training defaults (see `TrainDefaults`). */
export const TRAIN_DEFAULTS: TrainDefaults = Object.freeze({
  data: "synthetic:1000",
  split: Object.freeze([0.8, 0.1, 0.1]) as readonly [number, number, number],
  model: "facgcnn",
  epochs: 30,
  batchSize: 2048,
  lr: 5e-4,
  optimizer: "sf-adamw",
  momentum: 0.9,
  milestones: Object.freeze([100]),
  gamma: 0.1,
  device: "auto",
  seed: 0,
  bnBatches: 50,
  evalBatchSize: PREDICT_BATCH_SIZE,
});

/**
 * Defaults of `deno task experiment` / `runExperiment`.
 */
export interface ExperimentDefaults {
  /** Seeds 0..n−1. */
  readonly seeds: number;
  /** Epoch budgets. */
  readonly epochsList: readonly number[];
  /** Variants trained. */
  readonly variants: readonly ExperimentVariant[];
  /** Split seed (the split is fixed over the seeds). */
  readonly splitSeed: number;
}

/** The experiment defaults (see `ExperimentDefaults`). */
export const EXPERIMENT_DEFAULTS: ExperimentDefaults = Object.freeze({
  seeds: 5,
  epochsList: Object.freeze([100, 200, 300]),
  variants: EXPERIMENT_VARIANTS,
  splitSeed: 0,
});

/**
 * Where the data comes from and how it is read.
 *
 * @example
 * ```ts
 * import { type DataConfig, train } from "@facgcnn/toolkit";
 * const data: DataConfig = { data: "train.csv", valData: "val.csv", testData: "test.csv", target: "formation_energy_per_atom" };
 * const run = await train({ ...data, epochs: 100 });
 * ```
 */
export interface DataConfig {
  /** Training data (path or `synthetic:N`); split into train/val/test unless those are given. */
  data: string;
  /** Validation data (path); replaces the validation share of the split. */
  valData?: string;
  /** Test data (path); replaces the test share of the split. */
  testData?: string;
  /** Train/val/test fractions of `data` (default 0.8, 0.1, 0.1). */
  split?: [number, number, number];
  /** Source format ("auto": detected). */
  format?: DatasetFormat;
  /** Target column (CSV) or dataset (HDF5). */
  target?: string;
  /**
   * CGCNN `atom_init.json` to use as the atom features for any source (CSV, HDF5, synthetic);
   * a CGCNN folder's own `atom_init.json` is used without it.
   */
  atomInit?: string;
  /** Unit of the target for report axes (default eV/atom for energy targets, else none). */
  unit?: string;
  /** CSV id column. */
  idColumn?: string;
  /** HDF5 positions: Cartesian (Å) or fractional. */
  positions?: "cartesian" | "fractional";
  /** CIF sites with occupancy < 1: skip the structure ("error", default) or keep the majority species. */
  occupancy?: "error" | "majority";
  /** Keep at most this many structures per source. */
  limit?: number;
  /** Neighbour radius (8 Å). */
  radius?: number;
  /** Neighbours per atom (12). */
  maxNeighbors?: number;
  /** A tied 12th-neighbour shell: "include" (default), "drop", or "truncate" (CGCNN). */
  neighborTies?: NeighborTies;
  /** Graph cache folder (`.cache/graphs`); null disables it. */
  cacheDir?: string | null;
  /** Split seed (default: `seed`). */
  splitSeed?: number;
  /** Run seed; also the split seed unless `splitSeed` is given. */
  seed?: number;
  /** No loading messages. */
  quiet?: boolean;
}

/**
 * Everything a training run takes; defaults are the paper's where it gives them.
 *
 * @example
 * ```ts
 * import { type TrainConfig, train } from "@facgcnn/toolkit";
 * const config: TrainConfig = {
 *   data: "mp_20/train.csv",
 *   valData: "mp_20/val.csv",
 *   testData: "mp_20/test.csv",
 *   model: "facgcnn",
 *   frames: "stochastic",
 *   epochs: 300,
 *   atomFeaLen: 128,
 *   device: "auto",
 *   out: "runs/mp20",
 * };
 * const run = await train(config);
 * ```
 */
export interface TrainConfig extends DataConfig {
  /** Architecture ("facgcnn"). */
  model?: "cgcnn" | "facgcnn";
  /**
   * "regression" (default) or "classification": CGCNN's two-class mode (two outputs,
   * log-softmax, NLL loss, no target scaling); labels are the targets (0/1), or
   * `target > threshold` when `threshold` is given.
   */
  task?: ModelTask;
  /** Classification: class 1 is `target > threshold` (targets must be 0/1 without it). */
  threshold?: number;
  /** Stop when this many epochs pass without a better validation score (none: run all epochs). */
  patience?: number;
  /** Training frame mode ("stochastic", the paper's k = 1). */
  frames?: FrameMode;
  /** Frame base ("hybrid"; "pca" is the paper's). */
  frameKind?: FrameKind;
  /** FACGCNN coordinate inputs (raw Å, node and edge: the paper). */
  coordinates?: CoordinateInputs;
  /** Epochs (30). */
  epochs?: number;
  /** Crystals per step (2048, capped to the data; see `resolveBatchSize`). */
  batchSize?: number;
  /** Learning rate (5e-4). */
  lr?: number;
  /** Optimizer ("sf-adamw"). */
  optimizer?: OptimizerKind;
  /** Weight decay (the optimizer's own default: 0 for SF-AdamW and SGD, 0.01 for AdamW). */
  weightDecay?: number;
  /** SGD momentum (0.9). */
  momentum?: number;
  /** MultiStepLR milestones for SGD/AdamW ([100]) and factor (0.1). */
  milestones?: number[];
  /** MultiStepLR factor (0.1). */
  gamma?: number;
  /** SF-AdamW warmup steps (0). */
  warmupSteps?: number;
  /** A, atom embedding length (128, the paper's). */
  atomFeaLen?: number;
  /** H, hidden length of the head (128). */
  hFeaLen?: number;
  /** Convolution layers (3). */
  nConv?: number;
  /** Hidden layers of the head (1). */
  nH?: number;
  /** Device: "auto" (default), "cpu" or "cuda". */
  device?: DeviceChoice;
  /** Seed of initialisation, shuffling and frame draws (0); also the split seed by default. */
  seed?: number;
  /** Output folder (`runs/<timestamp>`). */
  out?: string;
  /** Continue the run in `out` from its last saved epoch. */
  resume?: boolean;
  /** A fresh run into a folder holding a previous run's files deletes them first. */
  force?: boolean;
  /** Training batches used to re-estimate BatchNorm statistics at x (SF-AdamW), 50. */
  bnBatches?: number;
  /**
   * Data-parallel shards (default: the number of MPI processes, 1 without `mpirun`): the
   * training set is cut into this many parts and every global batch takes an equal part of
   * each. A one-process run with `shards: P` reproduces a P-process run.
   */
  shards?: number;
}

/**
 * A training configuration with every default filled in (the batch size stays as given: the
 * default depends on the data, see `resolveBatchSize`).
 */
export type ResolvedTrainConfig =
  & TrainConfig
  & Required<
    Pick<
      TrainConfig,
      | "model"
      | "task"
      | "frames"
      | "frameKind"
      | "epochs"
      | "lr"
      | "optimizer"
      | "momentum"
      | "milestones"
      | "gamma"
      | "atomFeaLen"
      | "hFeaLen"
      | "nConv"
      | "nH"
      | "device"
      | "seed"
      | "bnBatches"
    >
  >;

function oneOf<T>(name: string, value: T, choices: readonly T[]): T {
  if (!choices.includes(value)) {
    throw new RangeError(
      `${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Checks train/val/test fractions: three numbers ≥ 0 that sum to 1. */
export function checkSplit(split: readonly number[]): [number, number, number] {
  if (
    split.length !== 3 || !split.every((f) => f >= 0) ||
    Math.abs(split[0] + split[1] + split[2] - 1) > 1e-6
  ) {
    throw new RangeError(`split must be three fractions ≥ 0 that sum to 1, got ${split}`);
  }
  return [split[0], split[1], split[2]];
}

/**
 * Fills in every default of a training run and checks the options (model widths and frames
 * through the model's own checks, with the FACGCNN paper's preset).
 *
 * @example
 * ```ts
 * import { resolveTrainConfig } from "@facgcnn/toolkit";
 * const c = resolveTrainConfig({ data: "synthetic:200" });
 * console.log(c.model, c.atomFeaLen, c.epochs, c.lr, c.optimizer); // facgcnn 128 30 0.0005 sf-adamw
 * ```
 */
export function resolveTrainConfig(c: TrainConfig): ResolvedTrainConfig {
  const d = TRAIN_DEFAULTS;
  const m = FACGCNN_PAPER_MODEL;
  const r: ResolvedTrainConfig = {
    ...c,
    model: oneOf("model", c.model ?? d.model, MODEL_KINDS),
    task: oneOf("task", c.task ?? "regression", MODEL_TASKS),
    frames: c.frames ?? m.frames,
    frameKind: c.frameKind ?? m.frameKind,
    coordinates: { ...m.coordinates, ...c.coordinates },
    epochs: c.epochs ?? d.epochs,
    lr: c.lr ?? d.lr,
    optimizer: oneOf("optimizer", c.optimizer ?? d.optimizer, OPTIMIZER_KINDS),
    momentum: c.momentum ?? d.momentum,
    milestones: c.milestones ?? [...d.milestones],
    gamma: c.gamma ?? d.gamma,
    atomFeaLen: c.atomFeaLen ?? m.atomFeaLen,
    hFeaLen: c.hFeaLen ?? m.hFeaLen,
    nConv: c.nConv ?? m.nConv,
    nH: c.nH ?? m.nH,
    device: oneOf("device", c.device ?? d.device, DEVICE_CHOICES),
    seed: c.seed ?? d.seed,
    bnBatches: c.bnBatches ?? d.bnBatches,
  };
  if (!Number.isInteger(r.epochs) || r.epochs < 1) {
    throw new RangeError(`epochs must be a positive integer, got ${r.epochs}`);
  }
  if (!(r.lr > 0)) throw new RangeError(`lr must be > 0, got ${r.lr}`);
  if (c.patience !== undefined && !(Number.isInteger(c.patience) && c.patience >= 1)) {
    throw new RangeError(`patience must be a positive integer, got ${c.patience}`);
  }
  if (c.batchSize !== undefined) resolveBatchSize(c.batchSize, Infinity);
  if (c.split !== undefined) checkSplit(c.split);
  resolveModelConfig(trainModelConfig(r), m); // widths, frames, frame kind
  return r;
}

/** The model a resolved training configuration builds (atom table and seed added by the caller). */
export function trainModelConfig(r: ResolvedTrainConfig): ModelConfig {
  return {
    kind: r.model,
    task: r.task,
    atomFeaLen: r.atomFeaLen,
    hFeaLen: r.hFeaLen,
    nConv: r.nConv,
    nH: r.nH,
    frames: r.frames,
    frameKind: r.frameKind,
    coordinates: r.coordinates,
    seed: r.seed,
    radius: r.radius,
    maxNeighbors: r.maxNeighbors,
    neighborTies: r.neighborTies,
  };
}

/**
 * What `config.json` records: the options as given, plus the choices that define the run
 * (data, task, architecture, frames, FACGCNN coordinate inputs, neighbour radius/count/ties,
 * epochs, lr, optimizer, seed), so that `--resume` and
 * `train --config run/config.json` read back the same run. The batch size is kept only when
 * given, so that a reread run caps the default the same way (`resolveBatchSize`).
 */
export function savedRunConfig(given: TrainConfig, r: ResolvedTrainConfig): TrainConfig {
  // The model's own resolution gives the values the run actually uses (coordinate inputs with
  // the preset filled in, neighbour radius, count and tie rule), so a reread run does not
  // depend on defaults that may change.
  const m = resolveModelConfig(trainModelConfig(r), FACGCNN_PAPER_MODEL);
  return {
    ...given,
    data: r.data,
    model: r.model,
    task: r.task,
    frames: r.frames,
    frameKind: r.frameKind,
    atomFeaLen: r.atomFeaLen,
    hFeaLen: r.hFeaLen,
    nConv: r.nConv,
    nH: r.nH,
    epochs: r.epochs,
    batchSize: given.batchSize,
    lr: r.lr,
    optimizer: r.optimizer,
    seed: r.seed,
    coordinates: m.coordinates,
    radius: m.radius,
    maxNeighbors: m.maxNeighbors,
    neighborTies: m.neighborTies,
  };
}

/** The experiment's own settings with defaults filled in and checked. */
export interface ExperimentSettings {
  /** Seeds 0..seeds−1. */
  seeds: number;
  /** Distinct epoch budgets, ascending. */
  budgets: number[];
  /** Variants to train. */
  variants: readonly ExperimentVariant[];
  /** Split seed shared by every run. */
  splitSeed: number;
}

/** Fills in and checks the experiment's settings (seeds, epoch budgets, variants, split seed). */
export function resolveExperimentSettings(c: {
  seeds?: number;
  epochsList?: number[];
  variants?: ExperimentVariant[];
  splitSeed?: number;
}): ExperimentSettings {
  const d = EXPERIMENT_DEFAULTS;
  const seeds = c.seeds ?? d.seeds;
  const budgets = [...new Set(c.epochsList ?? d.epochsList)].sort((a, b) => a - b);
  if (!Number.isInteger(seeds) || seeds < 1) {
    throw new RangeError(`seeds must be a positive integer, got ${seeds}`);
  }
  if (budgets.length === 0 || budgets.some((e) => !Number.isInteger(e) || e < 1)) {
    throw new RangeError(`epochs must be positive integers, got ${c.epochsList}`);
  }
  const variants = c.variants ?? d.variants;
  for (const v of variants) oneOf("variant", v, EXPERIMENT_VARIANTS);
  return { seeds, budgets, variants, splitSeed: c.splitSeed ?? d.splitSeed };
}

/**
 * A training configuration read back from a run's `config.json` (for `train --config`), with
 * `overrides` on top (fields that are undefined there do not override). The file's run folder
 * and resume flag are dropped: a new run gets its own folder unless `overrides.out` names one.
 */
export async function readRunConfig(
  path: string,
  overrides: Partial<TrainConfig> = {},
): Promise<TrainConfig> {
  let saved: TrainConfig;
  try {
    saved = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new RangeError(`cannot read the run configuration ${path}: ${(e as Error).message}`);
  }
  if (saved === null || typeof saved !== "object" || typeof saved.data !== "string") {
    throw new RangeError(`${path} is not a run's config.json (no "data" field)`);
  }
  const { out: _out, resume: _resume, ...rest } = saved;
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const merged = { ...rest, ...given } as TrainConfig;
  // `--coord-scale` alone overrides the scale, not the saved node-coordinates choice.
  if (overrides.coordinates !== undefined) {
    merged.coordinates = { ...rest.coordinates, ...overrides.coordinates };
  }
  return merged;
}

/**
 * The batch size used: an explicit size is capped to the training set; the default (the
 * paper's 2048) is also capped to a tenth of the training set (at least 32) so that a small
 * data set still gets about ten steps per epoch.
 */
export function resolveBatchSize(explicit: number | undefined, nTrain: number): number {
  if (explicit !== undefined) {
    if (!Number.isInteger(explicit) || explicit < 1) {
      throw new RangeError(`batch size must be a positive integer, got ${explicit}`);
    }
    return Math.min(explicit, nTrain);
  }
  return Math.min(TRAIN_DEFAULTS.batchSize, nTrain, Math.max(32, Math.ceil(nTrain / 10)));
}
