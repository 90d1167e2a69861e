/**
 * One epoch of training (shuffled batches, one `trainStep` each), the BatchNorm statistics
 * re-estimation that Schedule-Free needs, and evaluation on a graph set.
 * @module
 */

import type { GraphSet } from "../crystal/types.ts";
import { collate, type GraphBatch } from "../graph/batch.ts";
import type { Model } from "../models/model.ts";
import { BatchNorm1d } from "../nn/layers.ts";
import { profilerOf } from "../backend/profiler.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { noGrad, tidy } from "../tensor/scope.ts";
import { Rng } from "../util/random.ts";
import { TRAIN_DEFAULTS } from "./config.ts";
import { type RegressionMetrics, regressionMetrics } from "./metrics.ts";
import type { Normalizer } from "./normalizer.ts";
import type { EpochRecord } from "./records.ts";
import { type StepOptions, trainStep } from "./step.ts";

/**
 * Progress callbacks (the CLI draws a bar with them).
 *
 * @example
 * ```ts
 * import { type TrainHooks, train } from "@facgcnn/toolkit";
 * const hooks: TrainHooks = {
 *   onEpoch: (r, best) => console.log(`epoch ${r.epoch}: val MAE ${r.valMae.toFixed(4)}${best ? " *" : ""}`),
 *   log: () => {},
 * };
 * const run = await train({ data: "synthetic:200", epochs: 3 }, hooks);
 * ```
 */
export interface TrainHooks {
  /** Called before each epoch with its number, the epoch count and the batch count. */
  onEpochStart?: (epoch: number, epochs: number, batches: number) => void;
  /** Called after each optimizer step with the batch loss (standardised MSE). */
  onBatch?: (
    e: {
      epoch: number;
      epochs: number;
      batch: number;
      batches: number;
      loss: number;
      crystals: number;
    },
  ) => void;
  /** Called after each epoch (after the checkpoints are written); `best` marks a new best validation MAE. */
  onEpoch?: (record: EpochRecord, best: boolean) => void | Promise<void>;
  /** Log lines (default: stderr). */
  log?: (line: string) => void;
}

/**
 * Raised when the loss stops being finite; the last good checkpoints stay on disk.
 *
 * @example
 * ```ts
 * import { train, TrainingDivergedError } from "@facgcnn/toolkit";
 * try {
 *   await train({ data: "synthetic:200", lr: 10, epochs: 5 });
 * } catch (e) {
 *   if (e instanceof TrainingDivergedError) console.error(e.message); // the last good checkpoints are kept
 *   else throw e;
 * }
 * ```
 */
export class TrainingDivergedError extends Error {}

/** The shuffled crystal order of an epoch (its own random stream, so a resume replays it). */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return new Rng(seed, 1000 + epoch).shuffle(new Int32Array(count).map((_, i) => i));
}

/** Crystal indices of batch `b` of `order` (the last batch may be short). */
function batchAt(order: Int32Array, batchSize: number, b: number): Int32Array {
  return order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize));
}

/** Where an epoch is within the run (for messages and hooks). */
export interface EpochPosition {
  /** 1-based epoch number. */
  epoch: number;
  /** Epoch count of the run. */
  epochs: number;
}

/**
 * Mean training loss of one epoch (standardised MSE) over `order` in batches of `batchSize`;
 * the frames are drawn per batch by the model. A lone remainder crystal is skipped
 * (BatchNorm needs two). Throws `TrainingDivergedError` at the first non-finite loss, before
 * that step updates anything.
 */
export function trainEpoch(
  model: Model,
  optimizer: Optimizer,
  graphs: GraphSet,
  normalizer: Normalizer,
  order: Int32Array,
  batchSize: number,
  at: EpochPosition,
  hooks: Pick<TrainHooks, "onEpochStart" | "onBatch"> = {},
  step: StepOptions = {},
): number {
  const { epoch, epochs } = at;
  const batches = Math.ceil(order.length / batchSize);
  let lossSum = 0, count = 0;
  hooks.onEpochStart?.(epoch, epochs, batches);
  const profiler = profilerOf(model.backend); // FACGCNN_PROFILE=1: one profiled step per batch
  for (let b = 0; b < batches; b++) {
    const idx = batchAt(order, batchSize, b);
    if (idx.length < 2) continue; // BatchNorm needs two crystals; a lone remainder is skipped
    profiler?.stepBegin();
    const batch = collate(graphs, idx);
    const targets = new Float32Array(normalizer.norm(batch.targets));
    const loss = trainStep(model, optimizer, batch, targets, step);
    profiler?.stepEnd();
    if (!Number.isFinite(loss)) {
      throw new TrainingDivergedError(
        `loss became ${loss} at epoch ${epoch} batch ${
          b + 1
        }/${batches}; the last good checkpoints are kept`,
      );
    }
    lossSum += loss * idx.length;
    count += idx.length;
    hooks.onBatch?.({ epoch, epochs, batch: b + 1, batches, loss, crystals: idx.length });
  }
  return lossSum / count;
}

/**
 * Re-estimates BatchNorm running statistics at the current weights with a cumulative
 * average over up to `nBatches` training batches, without gradients. Schedule-Free
 * (Defazio et al. 2024) evaluates at the averaged weights x, which were never run through
 * the network, so the running statistics gathered at y do not fit them.
 */
export function reestimateBatchNorm(
  model: Model,
  train: GraphSet,
  order: Int32Array,
  batchSize: number,
  nBatches: number,
): void {
  const batches = Math.min(nBatches, Math.floor(order.length / batchSize) || 1);
  rebuildBatchNormStats(
    model,
    function* () {
      for (let b = 0; b < batches; b++) {
        const idx = batchAt(order, batchSize, b);
        if (idx.length < 2) return;
        yield collate(train, idx);
      }
    }(),
  );
}

/**
 * Resets every BatchNorm's running statistics, runs `batches` forward in training mode
 * without gradients with the statistics as a cumulative average (momentum `null`), and
 * restores the momenta. Shared by the one-process and the data-parallel re-estimation.
 */
export function rebuildBatchNormStats(model: Model, batches: Iterable<GraphBatch>): void {
  const bns = model.network.modules().filter((m): m is BatchNorm1d => m instanceof BatchNorm1d);
  const momenta = bns.map((bn) => bn.momentum);
  for (const bn of bns) {
    bn.resetRunningStats();
    bn.momentum = null;
  }
  model.train();
  try {
    for (const batch of batches) tidy(() => noGrad(() => void model.forward(batch)));
  } finally {
    bns.forEach((bn, i) => bn.momentum = momenta[i]);
  }
}

/**
 * Validation/test metrics of a model on a graph set (original target scale).
 *
 * @example
 * ```ts
 * import { evaluate, loadCheckpoint, loadGraphs } from "@facgcnn/toolkit";
 * const { model } = await loadCheckpoint("runs/example/best.safetensors");
 * const { graphs } = await loadGraphs("test.csv");
 * const { mae, rmse, r2, predictions } = evaluate(model, graphs);
 * model.dispose();
 * ```
 */
export function evaluate(
  model: Model,
  graphs: GraphSet,
  batchSize: number = TRAIN_DEFAULTS.evalBatchSize,
): RegressionMetrics & { predictions: Float32Array } {
  const predictions = model.predictGraphs(graphs, { batchSize });
  return { ...regressionMetrics(graphs.targets, predictions), predictions };
}
