/**
 * # FACGCNN toolkit
 *
 * Crystal graph neural networks in Deno: CGCNN (Xie & Grossman 2018) and its frame-averaging
 * extension FACGCNN, trained on the CPU (OpenBLAS) or on NVIDIA GPUs (cuBLAS, cuSPARSE and a
 * small CUDA helper, through `Deno.dlopen`).
 *
 * - **Data**: {@linkcode loadDataset} (CIF folders, CSV-with-CIF, HDF5, `synthetic:N`),
 *   {@linkcode parseCif}, {@linkcode structureToCif}, {@linkcode syntheticCrystals}.
 * - **Featurization**: {@linkcode featurize}, {@linkcode loadGraphs} (cached), neighbour lists,
 *   Gaussian distance expansion, CGCNN atom features.
 * - **Frames**: {@linkcode computeFrames}, {@linkcode pcaFrames}, {@linkcode latticeFrames}.
 * - **Models**: {@linkcode createModel}, {@linkcode Model} (`predict`, `forward`).
 * - **Training**: {@linkcode train} (what `deno task train` runs), {@linkcode runExperiment},
 *   {@linkcode evaluate}, optimizers.
 * - **Checkpoints**: {@linkcode saveCheckpoint}, {@linkcode loadCheckpoint}.
 * - **Metrics and plots**: {@linkcode regressionMetrics}, {@linkcode learningCurves},
 *   {@linkcode parityPlot}, {@linkcode renderHtml}, {@linkcode plotlyMimeBundle}.
 * - **Jupyter** (Deno kernel): structures, training results, predictions, experiment results
 *   and tensors display themselves; {@linkcode display} wraps anything else.
 *
 * Scripts: `examples/*.ts`; notebook: `examples/quickstart.ipynb`.
 *
 * @example Train a model from a script
 * ```ts
 * import { train } from "@facgcnn/toolkit"; // or "./mod.ts"
 * const run = await train({ data: "synthetic:300", model: "facgcnn", epochs: 3, atomFeaLen: 32 });
 * console.log(run.test); // { mae, rmse, r2, n }
 * run.model.dispose();
 * ```
 *
 * @example Predict with a checkpoint
 * ```ts
 * import { loadCheckpoint, loadDataset } from "@facgcnn/toolkit";
 * const { model } = await loadCheckpoint("runs/example/best.safetensors");
 * const predictions = await model.predict(await loadDataset("my_cifs/"), { frames: "all" });
 * model.dispose();
 * ```
 * @module
 */

// `Tensor.backward()` runs lib/autograd (the tensor layer does not import it).
import "./lib/autograd/backward.ts";

// --- entry points whose results display themselves in a Deno notebook --------------------
// (the plain functions of lib/ know nothing of Jupyter; these attach the display)
export {
  loadDataset,
  parseCif,
  runExperiment,
  syntheticCrystals,
  train,
} from "./lib/display/decorated.ts";

// --- crystals and data -----------------------------------------------------------------
export type {
  Dataset,
  DatasetEntry,
  GraphSet,
  NeighborList,
  SkippedEntry,
  Structure,
} from "./lib/crystal/types.ts";
export { CifError, type CifOptions } from "./lib/crystal/cif.ts";
export { type CifWriteOptions, structureToCif } from "./lib/crystal/cif_write.ts";
export {
  cartesian,
  formula,
  latticeFromParameters,
  type LatticeParameters,
  latticeParameters,
  latticeVolume,
} from "./lib/crystal/lattice.ts";
export {
  NEIGHBOR_TIES,
  neighborList,
  type NeighborOptions,
  type NeighborTies,
} from "./lib/crystal/neighbors.ts";
export { gaussianExpand, type GaussianOptions } from "./lib/crystal/rbf.ts";
export {
  atomFeatures,
  type AtomFeatureTable,
  atomFeatureTable,
  BUILTIN_ATOM_FEATURES,
  loadAtomInit,
  parseAtomInit,
} from "./lib/crystal/atom_features.ts";
export {
  DatasetError,
  type DatasetFormat,
  type LoadDatasetOptions,
  type LoadedDataset,
} from "./lib/data/dataset.ts";
export type { ReaderOptions } from "./lib/data/readers/common.ts";
export type { ValidateOptions } from "./lib/data/readers/validate.ts";
export {
  featurize,
  type FeaturizeOptions,
  type FeaturizeResult,
  loadGraphs,
  type LoadGraphsResult,
} from "./lib/data/featurize.ts";
export { splitIndices, subsetGraphs } from "./lib/graph/subset.ts";
export {
  randomlyRotateStructure,
  randomlyShiftGraphs,
  randomlyShiftOrigin,
  randomlyTransformGraphs,
  randomlyTransformStructure,
  randomOrthogonal,
  rotateStructure,
  shiftOrigin,
  transformStructure,
} from "./lib/crystal/transform.ts";
export { Rng } from "./lib/util/random.ts";

// --- frames ------------------------------------------------------------------------------
export {
  type BatchFrames,
  computeFrames,
  type DegeneracyReport,
  degeneracyReport,
  type FrameKind,
  type FrameMode,
  type FrameOptions,
} from "./lib/frames/select.ts";
export { type PcaFrames, pcaFrames, type PcaOptions } from "./lib/frames/pca.ts";
export { latticeFrames } from "./lib/frames/lattice.ts";
export type { CoordinateInputs } from "./lib/frames/scale.ts";

// --- models ------------------------------------------------------------------------------
export {
  createModel,
  Model,
  type ModelConfig,
  type PredictOptions,
  type ResolvedModelConfig,
} from "./lib/models/model.ts";
export { collate, type GraphBatch } from "./lib/graph/batch.ts";
export type { Parameter } from "./lib/nn/module.ts";

// --- tensors and devices -------------------------------------------------------------------
export { type Shape, Tensor } from "./lib/tensor/tensor.ts";
export {
  checkNoLeaks,
  type Disposable,
  keep,
  noGrad,
  type StorageCounter,
  tidy,
} from "./lib/tensor/scope.ts";
export type {
  AdamWScalars,
  Backend,
  BackendInfo,
  BatchNormArgs,
  BatchNormBackwardArgs,
  BatchPart,
  BinaryOp,
  Broadcast,
  CopyColsArgs,
  DType,
  EdgeCombineArgs,
  EdgeCombineBackwardArgs,
  EdgeGemmArgs,
  EdgeGemmWeightGradArgs,
  EdgeSourceArgs,
  FrameApplyArgs,
  FrameBuildArgs,
  GateSumArgs,
  GateSumBackwardArgs,
  GaussianArgs,
  GemmArgs,
  MemoryInfo,
  ScheduleFreeScalars,
  SgdScalars,
  Storage,
  UnaryOp,
} from "./lib/backend/backend.ts";
export { backendInfo, type DeviceChoice, selectBackend } from "./lib/backend/select.ts";

// --- training ------------------------------------------------------------------------------
export {
  type EpochRecord,
  evaluate,
  type TrainConfig,
  type TrainHooks,
  TrainingDivergedError,
  type TrainResult,
} from "./lib/train/trainer.ts";
export type { DataConfig, TrainingData } from "./lib/train/data.ts";
export {
  CGCNN_REFERENCE_MODEL,
  EXPERIMENT_DEFAULTS,
  type ExperimentDefaults,
  FACGCNN_PAPER_MODEL,
  type ResolvedTrainConfig,
  resolveTrainConfig,
  TRAIN_DEFAULTS,
  type TrainDefaults,
} from "./lib/train/config.ts";
export {
  MODEL_TASKS,
  type ModelDefaults,
  type ModelKind,
  type ModelTask,
} from "./lib/models/config.ts";
export {
  lossAndGradients,
  type LossFunction,
  mseTargetLoss,
  type StepOptions,
  trainStep,
} from "./lib/train/step.ts";
export { type RunCheckpoint, RunFolder, type RunState } from "./lib/train/run_folder.ts";
export {
  type ExperimentConfig,
  type ExperimentResult,
  type ExperimentRow,
  type ExperimentVariant,
} from "./lib/train/experiment.ts";

// --- checkpoints ---------------------------------------------------------------------------
export {
  type CheckpointInfo,
  loadCheckpoint,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  saveCheckpoint,
} from "./lib/train/checkpoint.ts";

// --- metrics ---------------------------------------------------------------------------------
export {
  type ClassificationMetrics,
  classificationMetrics,
  formatMeanStdErr,
  mae,
  type MeanStdErr,
  meanStdErr,
  type Numbers,
  r2,
  type RegressionMetrics,
  regressionMetrics,
  rmse,
} from "./lib/train/metrics.ts";
export { Normalizer, type NormalizerJSON } from "./lib/train/normalizer.ts";

// --- optimizers ------------------------------------------------------------------------------
export {
  createOptimizer,
  type CreateOptimizerOptions,
  createTrainingOptimizer,
  type TrainingOptimizer,
} from "./lib/optim/create.ts";
export type {
  Optimizer,
  OptimizerKind,
  OptimizerParameter,
  OptimizerState,
} from "./lib/optim/optimizer.ts";
export {
  ScheduleFreeAdamW,
  type ScheduleFreeAdamWOptions,
  type ScheduleFreeMode,
} from "./lib/optim/schedule_free_adamw.ts";
export { AdamW, type AdamWOptions } from "./lib/optim/adamw.ts";
export { SGD, type SgdOptions } from "./lib/optim/sgd.ts";
export {
  type HasLr,
  type LRScheduler,
  MultiStepLR,
  type MultiStepLROptions,
} from "./lib/optim/schedule.ts";

// --- plots ------------------------------------------------------------------------------------
export {
  type ChartRow,
  errorHistogram,
  experimentChart,
  experimentFigure,
  type ExperimentFigureRow,
  type HistoryPoint,
  type LearningCurveOptions,
  learningCurves,
  type ParityOptions,
  parityPlot,
  targetQuantity,
  withUnit,
} from "./lib/train/report.ts";
export { type BarCell, groupedBars, type GroupedBarsOptions } from "./lib/plot/grouped_bars.ts";
export { logTicks, tickLabel, type Ticks } from "./lib/plot/ticks.ts";
export {
  PLOTLY_MIME,
  type PlotlyFigure,
  plotlyMimeBundle,
  renderHtml,
  type ReportFigure,
} from "./lib/plot/plotly.ts";

// --- Data-parallel training (MPI, NCCL) -------------------------------------------------------
export {
  type Communicator,
  type DistributedOptions,
  initDistributed,
  LocalCommunicator,
} from "./lib/distributed/communicator.ts";
export {
  detectLaunch,
  type EnvGetter,
  type Launcher,
  type LaunchInfo,
} from "./lib/distributed/environment.ts";
export { failRank } from "./lib/distributed/failure.ts";

// --- Jupyter display ---------------------------------------------------------------------------
export {
  display,
  type Displayable,
  ExperimentTable,
  FigureView,
  JUPYTER_DISPLAY,
  type MimeBundle,
  PlotlyLibrary,
  plotlyLibrary,
  PredictionResult,
  showExperiment,
  showFigure,
  showPredictions,
  showStructure,
  showTraining,
  structureFigure,
  type StructureFigureOptions,
  StructureView,
  withDisplay,
} from "./lib/display/mod.ts";
