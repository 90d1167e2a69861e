/**
 * The training loop (what `deno task train` and `train()` in scripts run): standardised
 * targets, shuffled batches, validation every epoch with model selection by lowest MAE,
 * Schedule-Free AdamW with BatchNorm statistics re-estimated at x, atomic checkpoints every
 * epoch, exact resume, and test metrics of the best model.
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { type DeviceChoice, selectBackend } from "../backend/select.ts";
import { Rng } from "../util/random.ts";
import type { GraphSet } from "../crystal/types.ts";
import type { FrameKind, FrameMode } from "../frames/select.ts";
import type { CoordinateInputs } from "../frames/scale.ts";
import { collate } from "../graph/batch.ts";
import { Model } from "../models/model.ts";
import { BatchNorm1d } from "../nn/layers.ts";
import { createOptimizer } from "../optim/create.ts";
import type { Optimizer, OptimizerKind } from "../optim/optimizer.ts";
import { ConstantLR, type LRScheduler, MultiStepLR } from "../optim/schedule.ts";
import { readSafetensors } from "../io/safetensors.ts";
import { loadOptimizerState, saveOptimizerState } from "../optim/state_io.ts";
import { mseLoss, tensor } from "../tensor/ops.ts";
import { noGrad, tidy } from "../tensor/scope.ts";
import "../autograd/backward.ts"; // installs Tensor.backward()
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { type DataConfig, loadTrainingData, type TrainingData } from "./data.ts";
import { mae, type RegressionMetrics, regressionMetrics } from "./metrics.ts";
import { Normalizer } from "./normalizer.ts";
import { writeRunFiles } from "./run_files.ts";

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
  /** Training frame mode ("stochastic", the paper's k = 1). */
  frames?: FrameMode;
  /** Frame base ("pca"). */
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
  /** Weight decay (0). */
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
  /** Training batches used to re-estimate BatchNorm statistics at x (SF-AdamW), 50. */
  bnBatches?: number;
}

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
  /** Learning rate used in this epoch. */
  lr: number;
  /** Wall time of the epoch (s), validation included. */
  seconds: number;
}

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
  /** The configuration with defaults filled in. */
  config:
    & Required<Pick<TrainConfig, "model" | "epochs" | "batchSize" | "lr" | "optimizer">>
    & TrainConfig;
  /** One record per epoch. */
  history: EpochRecord[];
  /** Epoch of the lowest validation MAE (the returned model's). */
  bestEpoch: number;
  /** That lowest validation MAE. */
  bestValMae: number;
  /** Validation MAE of always predicting the training mean (the baseline to beat). */
  meanPredictorValMae: number;
  /** Test metrics of the best model (null when there is no test set). */
  test: RegressionMetrics | null;
  /** Test-set predictions of the best model, in test-set order. */
  testPredictions: Float32Array | null;
  /** The best model (weights at its best epoch); the caller disposes it. */
  model: Model;
  /** The train/val/test graph sets used. */
  data: TrainingData;
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

const DEFAULT_BATCH = 2048;

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
  return Math.min(DEFAULT_BATCH, nTrain, Math.max(32, Math.ceil(nTrain / 10)));
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
}

function shuffled(n: number, rng: Rng): Int32Array {
  return rng.shuffle(new Int32Array(n).map((_, i) => i));
}

/** Mean training loss of one epoch (standardised MSE); draws frames per batch. */
function runEpoch(
  model: Model,
  optimizer: Optimizer,
  train: GraphSet,
  normalizer: Normalizer,
  order: Int32Array,
  batchSize: number,
  epoch: number,
  epochs: number,
  hooks: TrainHooks,
): number {
  const backend = model.backend;
  const batches = Math.ceil(order.length / batchSize);
  let lossSum = 0, count = 0;
  hooks.onEpochStart?.(epoch, epochs, batches);
  for (let b = 0; b < batches; b++) {
    const idx = order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize));
    if (idx.length < 2) continue; // BatchNorm needs two crystals; a lone remainder is skipped
    const batch = collate(train, idx);
    const targets = new Float32Array(normalizer.norm(batch.targets));
    const loss = tidy(() => {
      const out = model.forward(batch);
      const l = mseLoss(out, tensor(backend, targets, [idx.length, 1]));
      l.backward();
      return l.item();
    });
    if (!Number.isFinite(loss)) {
      optimizer.zeroGrad();
      throw new TrainingDivergedError(
        `loss became ${loss} at epoch ${epoch} batch ${
          b + 1
        }/${batches}; the last good checkpoints are kept`,
      );
    }
    optimizer.step();
    optimizer.zeroGrad();
    lossSum += loss * idx.length;
    count += idx.length;
    hooks.onBatch?.({ epoch, epochs, batch: b + 1, batches, loss, crystals: idx.length });
  }
  return lossSum / count;
}

/**
 * Re-estimates BatchNorm running statistics at the current weights with a cumulative average over
 * up to `nBatches` training batches, without gradients (needed for Schedule-Free, whose evaluation
 * weights x were never run through the network).
 */
export function reestimateBatchNorm(
  model: Model,
  train: GraphSet,
  order: Int32Array,
  batchSize: number,
  nBatches: number,
): void {
  const bns = model.network.modules().filter((m): m is BatchNorm1d => m instanceof BatchNorm1d);
  const momenta = bns.map((bn) => bn.momentum);
  for (const bn of bns) {
    bn.resetRunningStats();
    bn.momentum = null;
  }
  model.train();
  try {
    const batches = Math.min(nBatches, Math.floor(order.length / batchSize) || 1);
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize));
      if (idx.length < 2) break;
      const batch = collate(train, idx);
      tidy(() => noGrad(() => void model.forward(batch)));
    }
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
  batchSize = 256,
): RegressionMetrics & { predictions: Float32Array } {
  const predictions = model.predictGraphs(graphs, { batchSize });
  return { ...regressionMetrics(graphs.targets, predictions), predictions };
}

interface RunState {
  epochsDone: number;
  bestEpoch: number;
  bestValMae: number;
  history: EpochRecord[];
}

/** The checkpoint files staged as `<name>.next.safetensors` before each commit. */
const PENDING = ["best", "last", "last.optim"] as const;
type PendingName = (typeof PENDING)[number];

function pending(out: string, name: PendingName): string {
  return `${out}/${name}.next.safetensors`;
}

async function movePending(out: string, name: PendingName): Promise<void> {
  try {
    await Deno.rename(pending(out, name), `${out}/${name}.safetensors`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

async function stagedEpoch(path: string): Promise<number | null> {
  try {
    return Number((await readSafetensors(path)).metadata?.epoch);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Finishes or discards the staged checkpoints of an interrupted epoch. Per epoch the trainer
 * writes `best.next` (if best), `last.next`, `last.optim.next`, then `state.json` (the commit
 * point), then renames them into place. A staged file is kept (renamed) when its epoch was
 * committed, else removed: `best.next` by its epoch vs `state.bestEpoch`, `last.next` by its
 * epoch vs `state.epochsDone`, and `last.optim.next` goes with `last.next` (when `last.next`
 * is already gone, the optimizer file is a committed leftover of the renames).
 */
async function recoverPending(out: string, state: RunState): Promise<void> {
  const settle = async (name: PendingName, keep: boolean) => {
    if (keep) await movePending(out, name);
    else await Deno.remove(pending(out, name)).catch(() => {});
  };
  const best = await stagedEpoch(pending(out, "best"));
  if (best !== null) await settle("best", best === state.bestEpoch && best > 0);
  const last = await stagedEpoch(pending(out, "last"));
  const lastCommitted = last === null || (last === state.epochsDone && last > 0);
  if (last !== null) await settle("last", lastCommitted);
  await settle("last.optim", lastCommitted);
}

/**
 * Trains a model as configured; writes everything into `config.out`.
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
  const log = hooks.log ?? ((line: string) => console.error(line));
  const out = config.out ?? `runs/${timestamp()}`;
  let c: TrainConfig = { ...config, out };
  if (c.resume) {
    // The saved configuration wins over flags, except the epoch count (to extend a run).
    let saved: TrainConfig;
    try {
      saved = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    } catch (e) {
      throw new Error(`--resume: cannot read ${out}/config.json (${(e as Error).message})`);
    }
    c = { ...saved, epochs: config.epochs ?? saved.epochs, out, resume: true };
  }
  const seed = c.seed ?? 0;
  const data = await loadTrainingData({ ...c, seed });
  const backend: Backend = selectBackend(c.device ?? "auto");
  const batchSize = resolveBatchSize(c.batchSize, data.train.count);
  const resolved = {
    ...c,
    model: c.model ?? "facgcnn",
    epochs: c.epochs ?? 30,
    batchSize,
    lr: c.lr ?? 5e-4,
    optimizer: c.optimizer ?? "sf-adamw",
    seed,
  };
  if (!Number.isInteger(resolved.epochs) || resolved.epochs < 1) {
    throw new RangeError(`epochs must be a positive integer, got ${resolved.epochs}`);
  }
  if (!(resolved.lr > 0)) throw new RangeError(`lr must be > 0, got ${resolved.lr}`);
  await Deno.mkdir(out, { recursive: true });
  if (!c.resume) {
    await Deno.writeTextFile(
      `${out}/config.json`,
      JSON.stringify({ ...resolved, batchSize: c.batchSize }, null, 2) + "\n",
    );
  }

  const model = new Model({
    kind: resolved.model,
    atomFeaLen: c.atomFeaLen ?? 128,
    hFeaLen: c.hFeaLen ?? 128,
    nConv: c.nConv ?? 3,
    nH: c.nH ?? 1,
    frames: c.frames ?? "stochastic",
    frameKind: c.frameKind ?? "pca",
    coordinates: c.coordinates,
    seed,
    radius: c.radius,
    maxNeighbors: c.maxNeighbors,
    neighborTies: c.neighborTies,
    atomFeatures: data.atomFeatures,
  }, backend);
  const normalizer = Normalizer.fit(data.train.targets);
  const baselineMae = mae(data.val.targets, new Float64Array(data.val.count).fill(normalizer.mean));
  model.targetMean = normalizer.mean;
  model.targetStd = normalizer.std;
  const optimizer = createOptimizer(resolved.optimizer, model.parameters(), {
    lr: resolved.lr,
    weightDecay: c.weightDecay,
    momentum: c.momentum ?? 0.9,
    warmupSteps: c.warmupSteps,
  });
  const scheduler: LRScheduler = resolved.optimizer === "sf-adamw"
    ? new ConstantLR(optimizer)
    : new MultiStepLR(optimizer, { milestones: c.milestones ?? [100], gamma: c.gamma ?? 0.1 });

  let state: RunState = { epochsDone: 0, bestEpoch: 0, bestValMae: Infinity, history: [] };
  if (c.resume) {
    try {
      state = JSON.parse(await Deno.readTextFile(`${out}/state.json`));
    } catch (e) {
      // Stopped before the first epoch was committed: nothing to continue from.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await recoverPending(out, state);
    if (state.epochsDone > 0) {
      const { model: saved, info } = await loadCheckpoint(`${out}/last.safetensors`, { backend });
      if (info.epoch !== state.epochsDone) {
        saved.dispose();
        model.dispose();
        optimizer.dispose();
        throw new Error(
          `--resume: ${out}/last.safetensors is from epoch ${info.epoch} but state.json says ${state.epochsDone}`,
        );
      }
      model.network.loadStateDict(saved.network.stateDict());
      saved.dispose();
      optimizer.loadStateDict(await loadOptimizerState(`${out}/last.optim.safetensors`));
      optimizer.train();
      for (let e = 0; e < state.epochsDone; e++) scheduler.step();
      await writeRunFiles.metrics(out, state.history);
    }
    log(
      `resuming ${out} after epoch ${state.epochsDone} (best epoch ${state.bestEpoch}, val MAE ${state.bestValMae})`,
    );
  }

  log(
    `training ${resolved.model} (${model.parameters().length} tensors, ${model.network.parameterCount()} parameters) on ` +
      `${data.train.count}/${data.val.count}/${data.test.count} crystals, batch ${batchSize}, ` +
      `${resolved.optimizer} lr ${resolved.lr}, ${resolved.epochs} epochs → ${out}`,
  );
  log(`baseline: predicting the training mean gives val MAE ${baselineMae.toFixed(4)}`);
  const bnBatches = c.bnBatches ?? 50;
  try {
    for (let epoch = state.epochsDone + 1; epoch <= resolved.epochs; epoch++) {
      const t0 = performance.now();
      const rng = new Rng(seed, 1000 + epoch);
      const order = shuffled(data.train.count, rng);
      model.reseedFrames(seed, 100000 + epoch);
      model.train();
      optimizer.train();
      const lr = optimizer.lr;
      const trainLoss = runEpoch(
        model,
        optimizer,
        data.train,
        normalizer,
        order,
        batchSize,
        epoch,
        resolved.epochs,
        hooks,
      );
      optimizer.eval();
      if (resolved.optimizer === "sf-adamw") {
        reestimateBatchNorm(model, data.train, order, batchSize, bnBatches);
      }
      const val = evaluate(model, data.val);
      scheduler.step();
      const record: EpochRecord = {
        epoch,
        trainLoss,
        valMae: val.mae,
        valRmse: val.rmse,
        valR2: val.r2,
        lr,
        seconds: (performance.now() - t0) / 1000,
      };
      const best = val.mae < state.bestValMae;
      state.history.push(record);
      state.epochsDone = epoch;
      // Stage the checkpoints as *.next files, commit with state.json, then move them into
      // place: a kill at any point leaves a consistent resume point (see `recoverPending`).
      if (best) {
        state.bestEpoch = epoch;
        state.bestValMae = val.mae;
        await saveCheckpoint(pending(out, "best"), model, {
          epoch,
          metrics: { mae: val.mae, rmse: val.rmse, r2: val.r2 },
        });
      }
      await saveCheckpoint(pending(out, "last"), model, {
        epoch,
        metrics: { mae: val.mae, rmse: val.rmse, r2: val.r2 },
      });
      await saveOptimizerState(pending(out, "last.optim"), optimizer.stateDict());
      await writeRunFiles.state(out, state);
      for (const name of PENDING) await movePending(out, name);
      await writeRunFiles.metrics(out, state.history);
      await hooks.onEpoch?.(record, best);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }

  model.dispose();
  const { model: bestModel } = await loadCheckpoint(`${out}/best.safetensors`, { backend });
  let test: TrainResult["test"] = null;
  let testPredictions: Float32Array | null = null;
  if (data.test.count > 0) {
    const t = evaluate(bestModel, data.test);
    test = { mae: t.mae, rmse: t.rmse, r2: t.r2, n: t.n };
    testPredictions = t.predictions;
    await writeRunFiles.testResults(out, data.test, t.predictions);
  }
  const result: TrainResult = {
    out,
    config: resolved,
    history: state.history,
    bestEpoch: state.bestEpoch,
    bestValMae: state.bestValMae,
    meanPredictorValMae: baselineMae,
    test,
    testPredictions,
    model: bestModel,
    data,
  };
  await writeRunFiles.summary(out, result, backend);
  await writeRunFiles.report(out, result);
  return result;
}
