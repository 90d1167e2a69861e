/**
 * # FACGCNN toolkit
 *
 * Crystal graph neural networks in Deno: CGCNN (Xie & Grossman 2018) and its frame-averaging
 * extension FACGCNN, trained on the CPU (OpenBLAS) or on NVIDIA GPUs (cuBLAS, cuSPARSE and a
 * small CUDA helper, through `Deno.dlopen`).
 *
 * @example Train a model from a script
 * ```ts
 * import { train } from "./mod.ts";
 * const run = await train({ data: "synthetic:500", model: "facgcnn", epochs: 5, atomFeaLen: 64 });
 * console.log(run.test); // { mae, rmse, r2, n }
 * run.model.dispose();
 * ```
 *
 * @example Predict with a checkpoint
 * ```ts
 * import { loadCheckpoint, loadDataset } from "./mod.ts";
 * const { model } = await loadCheckpoint("runs/example/best.safetensors");
 * const predictions = await model.predict(await loadDataset("my_cifs/"), { frames: "all" });
 * ```
 * @module
 */

// --- crystals and data -----------------------------------------------------------------
export type {
  Dataset,
  DatasetEntry,
  GraphSet,
  NeighborList,
  SkippedEntry,
  Structure,
} from "./lib/crystal/types.ts";
export { CifError, parseCif } from "./lib/crystal/cif.ts";
export { cartesian, formula, latticeFromParameters, latticeVolume } from "./lib/crystal/lattice.ts";
export { neighborList, type NeighborOptions } from "./lib/crystal/neighbors.ts";
export { gaussianExpand, type GaussianOptions } from "./lib/crystal/rbf.ts";
export {
  atomFeatures,
  type AtomFeatureTable,
  atomFeatureTable,
  BUILTIN_ATOM_FEATURES,
  loadAtomInit,
  parseAtomInit,
} from "./lib/crystal/atom_features.ts";
export { type DatasetFormat, loadDataset, type LoadDatasetOptions } from "./lib/crystal/dataset.ts";
export { syntheticCrystals } from "./lib/crystal/synthetic.ts";
export {
  featurize,
  type FeaturizeOptions,
  loadGraphs,
  splitIndices,
  subsetGraphs,
} from "./lib/crystal/featurize.ts";
export {
  randomlyTransformGraphs,
  randomlyTransformStructure,
  randomOrthogonal,
  transformStructure,
} from "./lib/crystal/transform.ts";
export { Rng } from "./lib/crystal/random.ts";

// --- frames ------------------------------------------------------------------------------
export {
  computeFrames,
  degeneracyReport,
  type FrameKind,
  type FrameMode,
} from "./lib/frames/select.ts";
export { pcaFrames } from "./lib/frames/pca.ts";
export { latticeFrames } from "./lib/frames/lattice.ts";

// --- models ------------------------------------------------------------------------------
export {
  createModel,
  Model,
  type ModelConfig,
  type PredictOptions,
  type ResolvedModelConfig,
} from "./lib/models/model.ts";
export { collate, type GraphBatch } from "./lib/graph/batch.ts";

// --- tensors and devices -------------------------------------------------------------------
export { Tensor } from "./lib/tensor/tensor.ts";
export { keep, noGrad, tidy } from "./lib/tensor/scope.ts";
export type { Backend, BackendInfo, MemoryInfo } from "./lib/backend/backend.ts";
export { backendInfo, type DeviceChoice, selectBackend } from "./lib/backend/select.ts";

// --- training ------------------------------------------------------------------------------
export {
  type EpochRecord,
  evaluate,
  train,
  type TrainConfig,
  TrainingDivergedError,
  type TrainResult,
} from "./lib/train/trainer.ts";
export {
  type ExperimentConfig,
  type ExperimentResult,
  type ExperimentRow,
  runExperiment,
} from "./lib/train/experiment.ts";
export { loadCheckpoint, saveCheckpoint } from "./lib/train/checkpoint.ts";
export {
  mae,
  meanStdErr,
  r2,
  type RegressionMetrics,
  regressionMetrics,
  rmse,
} from "./lib/train/metrics.ts";
export { Normalizer } from "./lib/train/normalizer.ts";
export { createOptimizer } from "./lib/optim/create.ts";
export { ScheduleFreeAdamW } from "./lib/optim/schedule_free_adamw.ts";
export { AdamW } from "./lib/optim/adamw.ts";
export { SGD } from "./lib/optim/sgd.ts";
export { MultiStepLR } from "./lib/optim/schedule.ts";

// --- plots ------------------------------------------------------------------------------------
export { errorHistogram, experimentChart, learningCurves, parityPlot } from "./lib/train/report.ts";
export { plotlyMimeBundle, renderHtml } from "./lib/plot/plotly.ts";
