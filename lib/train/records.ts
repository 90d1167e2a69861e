/**
 * The records a run and an experiment produce: one row of `metrics.csv` per epoch, what a
 * training run returns, and one row of the experiment's results table. The plots take
 * narrower views of them (`HistoryPoint`, `ChartRow` in `report.ts`).
 * @module
 */

import type { FrameMode } from "../frames/select.ts";
import type { Model } from "../models/model.ts";
import type { ExperimentVariant, ResolvedTrainConfig } from "./config.ts";
import type { TrainingData } from "./data.ts";
import type { ClassificationMetrics, MeanStdErr, RegressionMetrics } from "./metrics.ts";

/**
 * One row of `metrics.csv`.
 *
 * @example
 * ```ts
 * import { type EpochRecord, train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 3 });
 * const last: EpochRecord = run.history[run.history.length - 1];
 * console.log(last.epoch, last.trainLoss, last.valMae, last.seconds);
 * run.model.dispose();
 * ```
 */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss (MSE on standardised targets). */
  trainLoss: number;
  /** Validation MAE (original units). */
  valMae: number;
  /** Validation RMSE. */
  valRmse: number;
  /** Validation R². */
  valR2: number;
  /** Validation ROC AUC (classification runs only; they keep the epoch where it is highest). */
  valAuc?: number;
  /** Learning rate used in this epoch. */
  lr: number;
  /**
   * FACGCNN: training crystals whose frame base was ill-defined this epoch (one count per
   * forward pass; on CUDA counted on the device and read once, here).
   */
  degenerateFrames?: number;
  /** Wall time of the epoch (s), validation included. */
  seconds: number;
}

/**
 * What a run produced.
 *
 * @example
 * ```ts
 * import { train, type TrainResult } from "@facgcnn/toolkit";
 * const run: TrainResult = await train({ data: "synthetic:200", epochs: 3 });
 * console.log(run.out, run.bestEpoch, run.bestValMae, run.test);
 * run.model.dispose();
 * ```
 */
export interface TrainResult {
  /** Run folder (config.json, metrics.csv, checkpoints, report.html). */
  out: string;
  /** The configuration with defaults filled in (and the batch size used). */
  config: ResolvedTrainConfig & { batchSize: number };
  /** One record per epoch. */
  history: EpochRecord[];
  /**
   * The returned model's epoch: lowest validation MAE, or for classification the highest
   * validation AUC (ties: the earlier epoch).
   */
  bestEpoch: number;
  /** The validation MAE at that epoch. */
  bestValMae: number;
  /** Validation MAE of always predicting the training mean (the baseline to beat). */
  meanPredictorValMae: number;
  /** Test metrics of the best model (null when there is no test set). */
  test: RegressionMetrics | null;
  /** Test-set predictions of the best model, in test-set order. */
  testPredictions: Float32Array | null;
  /**
   * Classification runs: accuracy, precision, recall, F1 and AUC of the best model on the
   * test set (`testPredictions` are then P(class 1)); absent or null otherwise.
   */
  testClassification?: ClassificationMetrics | null;
  /** The best model (weights at its best epoch); the caller disposes it. */
  model: Model;
  /** The train/val/test graph sets used. */
  data: TrainingData;
}

/**
 * One table row: a variant, budget and evaluation setting, with per-seed and summary metrics.
 *
 * @example
 * ```ts
 * import { type ExperimentRow, formatMeanStdErr, runExperiment } from "@facgcnn/toolkit";
 * const { rows } = await runExperiment({ data: "synthetic:200", seeds: 2, epochsList: [3] });
 * const rotated: ExperimentRow[] = rows.filter((r) => r.rotated);
 * for (const r of rotated) console.log(r.label, formatMeanStdErr(r.mae));
 * ```
 */
export interface ExperimentRow {
  /** Row label, e.g. "FACGCNN + random rotation (100 epochs)". */
  label: string;
  /** Trained variant. */
  variant: ExperimentVariant;
  /** Epoch budget. */
  epochs: number;
  /** Whether the test crystals were randomly rotated (rigid O(3) + translation, no wrapping). */
  rotated: boolean;
  /** Whether the test cells' origins were randomly shifted, atoms wrapped into the cell. */
  originShifted?: boolean;
  /** Frame mode at evaluation. */
  evalFrames: FrameMode;
  /** Metrics of each seed. */
  perSeed: { seed: number; r2: number; mae: number; rmse: number }[];
  /** R² over seeds. */
  r2: MeanStdErr;
  /** MAE over seeds. */
  mae: MeanStdErr;
  /** RMSE over seeds. */
  rmse: MeanStdErr;
}
