/**
 * The training loop (what `deno task train` and `train()` in scripts run): standardised
 * targets, shuffled batches, validation every epoch with model selection by lowest MAE,
 * Schedule-Free AdamW with BatchNorm statistics re-estimated at x, atomic checkpoints every
 * epoch, exact resume, and test metrics of the best model. The parts live next to it:
 * `config.ts` (defaults and checks), `step.ts` and `epoch.ts` (the step and the epoch),
 * `run_folder.ts` (checkpoints, commit and resume) and `run_files.ts` (the other files).
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { selectBackend } from "../backend/select.ts";
import { Model } from "../models/model.ts";
import { createTrainingOptimizer, type TrainingOptimizer } from "../optim/create.ts";
import "../autograd/backward.ts"; // installs Tensor.backward()
import { loadCheckpoint } from "./checkpoint.ts";
import {
  resolveBatchSize,
  type ResolvedTrainConfig,
  resolveTrainConfig,
  savedRunConfig,
  type TrainConfig,
  trainModelConfig,
} from "./config.ts";
import { loadTrainingData } from "./data.ts";
import { epochOrder, evaluate, reestimateBatchNorm, trainEpoch, type TrainHooks } from "./epoch.ts";
import { classificationMetrics, mae } from "./metrics.ts";
import { toClassLabels } from "./labels.ts";
import { binaryNllLoss } from "./step.ts";
import { Normalizer } from "./normalizer.ts";
import { isNewBest } from "./best_epoch.ts";
import type { EpochRecord, TrainResult } from "./records.ts";
import {
  checkResumeOptions,
  defaultRunFolder,
  RunFolder,
  RunFolderError,
  type RunState,
} from "./run_folder.ts";
import { skippedReport, writeSkippedCsv } from "../data/skipped.ts";
import type { SkippedEntry } from "../crystal/types.ts";
import { FileWriteError } from "../io/atomic.ts";
import { writeRunFiles } from "./run_files.ts";
import { type Communicator, initDistributed } from "../distributed/communicator.ts";
import { detectLaunch } from "../distributed/environment.ts";
import { BatchPlan } from "../distributed/shards.ts";
import {
  attachSyncBatchNorm,
  frameStream,
  gradientReducer,
  parallelEpoch,
  parallelReestimateBatchNorm,
  type ParallelRun,
} from "./parallel.ts";
import { reducedMeanAbsDeviation, reducedMetrics, reducedNormalizer } from "./reduce.ts";
import { loadShardedData } from "./shard_data.ts";

export { resolveBatchSize, type TrainConfig } from "./config.ts";
export { evaluate, reestimateBatchNorm, type TrainHooks, TrainingDivergedError } from "./epoch.ts";
export type { EpochRecord, TrainResult } from "./records.ts";

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
  const comm = initDistributed();
  const rank0 = comm.rank === 0;
  // Other ranks print only errors (which end the job, see `failRank`).
  const log = rank0 ? hooks.log ?? ((line: string) => console.error(line)) : () => {};
  // One training per folder: rank 0 holds the lock until the run ends (or its process dies);
  // the other ranks belong to the same run.
  let folder = new RunFolder(config.out ?? defaultRunFolder());
  let release = () => Promise.resolve();
  if (rank0) {
    ({ folder, release } = config.out !== undefined
      ? await lockedFolder(config.out)
      : await unusedRunFolder());
  }
  try {
    return await trainLocked(comm, folder, config, hooks, log);
  } finally {
    await release();
  }
}

async function lockedFolder(path: string) {
  const folder = new RunFolder(path);
  return { folder, release: await folder.lock() };
}

/** `runs/<timestamp>`, with `-2`, `-3`, … when other runs took it (same second), locked. */
async function unusedRunFolder() {
  const base = defaultRunFolder();
  for (let k = 1;; k++) {
    const folder = new RunFolder(k === 1 ? base : `${base}-${k}`);
    if ((await folder.entries()).length > 0) continue;
    try {
      return { folder, release: await folder.lock() };
    } catch (e) {
      if (!(e instanceof RunFolderError) || k > 100) throw e;
    }
  }
}

/** Writes skipped.csv and prints the per-stage report (rank 0). */
async function reportSkipped(
  out: string,
  skipped: SkippedEntry[],
  kept: number,
  log: (line: string) => void,
): Promise<void> {
  // Every structure left out, at any stage, is listed: train and predict report alike.
  const file = `${out}/skipped.csv`;
  await writeSkippedCsv(file, skipped);
  for (const line of skippedReport(skipped, kept + skipped.length, file)) log(line);
}

/**
 * A write that failed for lack of space, restated with what is safe: every committed epoch
 * (checkpoints and state.json are replaced atomically) and how to go on.
 */
function savedSoFar(e: unknown, out: string, epochs: number): unknown {
  if (!(e instanceof FileWriteError) || !e.diskFull) return e;
  return new Error(
    `${e.message}; nothing saved was lost: ${out} holds the run up to epoch ${epochs} ` +
      `(state.json, last.safetensors, best.safetensors); free some space and continue with ` +
      `--resume --out ${out}`,
    { cause: e },
  );
}

async function trainLocked(
  comm: ReturnType<typeof initDistributed>,
  folder: RunFolder,
  config: TrainConfig,
  hooks: TrainHooks,
  log: (line: string) => void,
): Promise<TrainResult> {
  const rank0 = comm.rank === 0;
  const out = folder.path;
  let given: TrainConfig = { ...config, out, force: undefined };
  if (given.resume) {
    // The saved configuration wins; an explicit option that differs is an error, except
    // those that may change on resume (the epoch count to extend a run, the device, …).
    const saved = await folder.readConfig();
    checkResumeOptions(config, saved, out);
    given = {
      ...saved,
      epochs: config.epochs ?? saved.epochs,
      device: config.device ?? saved.device,
      cacheDir: config.cacheDir !== undefined ? config.cacheDir : saved.cacheDir,
      quiet: config.quiet ?? saved.quiet,
      out,
      resume: true,
    };
    const savedShards = saved.shards ?? 1;
    if (comm.size > 1 && comm.size !== savedShards) {
      throw new Error(
        `--resume: ${out} was trained with ${savedShards} process${
          savedShards === 1 ? "" : "es"
        } (data shards and batches depend on it); resume it with ${
          savedShards === 1 ? "one process (no mpirun)" : `mpirun -np ${savedShards}`
        }, not ${comm.size}`,
      );
    }
    if (comm.size === 1 && savedShards > 1) {
      log(`resuming a ${savedShards}-process run in one process holding all ${savedShards} shards`);
    }
  } else if (rank0) {
    await folder.prepareFresh(config.force ?? false);
  }
  const shards = given.shards ?? comm.size;
  if (!Number.isInteger(shards) || shards < 1 || shards % comm.size !== 0) {
    throw new RangeError(
      `shards must be a positive multiple of the ${comm.size} processes, got ${shards}`,
    );
  }
  given = { ...given, ...(shards > 1 ? { shards } : {}) };
  if (!rank0) given = { ...given, quiet: true };
  const c = resolveTrainConfig(given);
  if (shards === 1) return await trainOneProcess(c, given, folder, hooks, log);
  if (c.task === "classification") {
    throw new RangeError("classification runs in one process (no data-parallel shards yet)");
  }

  return await trainDataParallel(c, given, folder, hooks, log, comm, shards);
}

/** How this process trains, re-estimates BatchNorm and validates one epoch. */
interface EpochWork {
  /** The frame stream of `epoch` (`Model.reseedFrames`), so that a resume replays the draws. */
  frameStream(epoch: number): number;
  /** Trains one epoch; returns its mean training loss. */
  train(epoch: number): number;
  /** Re-estimates BatchNorm statistics at the evaluation weights (Schedule-Free's x). */
  reestimate(epoch: number): void;
  /** Validation metrics of the current weights (`auc` for classification runs). */
  validate(): { mae: number; rmse: number; r2: number; auc?: number };
}

/** What the epoch loop drives. */
interface EpochLoop {
  c: ResolvedTrainConfig;
  folder: RunFolder;
  model: Model;
  training: TrainingOptimizer;
  work: EpochWork;
  hooks: TrainHooks;
  log: (line: string) => void;
  /** Whether this process writes the run folder and calls `onEpoch` (rank 0). */
  writer: boolean;
  /** Restores the last committed epoch (`--resume`). */
  resume(): Promise<RunState>;
  /** The "training ..." log line. */
  describe: string;
  /** Validation MAE of predicting the training mean. */
  baselineMae: number;
}

/**
 * The epoch loop shared by one-process and data-parallel runs: resume, then for each epoch
 * train, re-estimate BatchNorm where the optimizer needs it, validate, step the schedule and
 * commit the epoch to the run folder. Frees the optimizer; frees the model on an error.
 */
async function runEpochs(l: EpochLoop): Promise<RunState> {
  const { c, model, hooks, log, work } = l;
  const { optimizer, scheduler } = l.training;
  let state: RunState = { epochsDone: 0, bestEpoch: 0, bestValMae: Infinity, history: [] };
  let committed = 0; // epochs whose commit finished (state.epochsDone runs ahead during one)
  try {
    if (c.resume) {
      state = await l.resume();
      committed = state.epochsDone;
      for (let e = 0; e < state.epochsDone; e++) scheduler.step();
      log(
        `resuming ${l.folder.path} after epoch ${state.epochsDone} (best epoch ${state.bestEpoch}, val MAE ${state.bestValMae})`,
      );
    }
    log(l.describe);
    log(`baseline: predicting the training mean gives val MAE ${l.baselineMae.toFixed(4)}`);
    if (state.epochsDone >= c.epochs) {
      log(
        `nothing to train: the run already has ${state.epochsDone} epoch(s) and --epochs is ` +
          `${c.epochs}; pass --epochs N with N > ${state.epochsDone} to extend it`,
      );
    }
    for (let epoch = state.epochsDone + 1; epoch <= c.epochs; epoch++) {
      const t0 = performance.now();
      model.reseedFrames(c.seed, work.frameStream(epoch));
      model.train();
      optimizer.train();
      const lr = optimizer.lr;
      model.degenerateSeen = 0;
      const trainLoss = work.train(epoch);
      // Read once per epoch: on CUDA the count lives on the device (no read per step).
      const degenerateFrames = model.config.kind === "facgcnn" ? model.degenerateSeen : undefined;
      optimizer.eval();
      if (l.training.reestimateBatchNorm) work.reestimate(epoch);
      const val = work.validate();
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
      if (val.auc !== undefined) record.valAuc = val.auc;
      if (degenerateFrames !== undefined) record.degenerateFrames = degenerateFrames;
      // The best epoch's record (history survives --resume in state.json).
      const bestSoFar = state.history.find((r) => r.epoch === state.bestEpoch) ?? null;
      const best = isNewBest(record, bestSoFar);
      state.history.push(record);
      state.epochsDone = epoch;
      if (best) {
        state.bestEpoch = epoch;
        state.bestValMae = val.mae;
      }
      if (l.writer) {
        await l.folder.commitEpoch(state, model, optimizer, best, {
          mae: val.mae,
          rmse: val.rmse,
          r2: val.r2,
        });
        committed = epoch;
        await hooks.onEpoch?.(record, best);
      }
      if (stopEarly(c.patience, epoch, state.bestEpoch, log)) break;
    }
  } catch (e) {
    model.dispose();
    throw savedSoFar(e, l.folder.path, committed);
  } finally {
    optimizer.dispose();
  }
  return state;
}

/** The optimizer, schedule and BatchNorm policy of a run (`lib/optim/create.ts`). */
function runOptimizer(c: ResolvedTrainConfig, model: Model): TrainingOptimizer {
  return createTrainingOptimizer(c.optimizer, model.parameters(), {
    lr: c.lr,
    weightDecay: c.weightDecay,
    momentum: c.momentum,
    warmupSteps: c.warmupSteps,
    milestones: c.milestones,
    gamma: c.gamma,
  });
}

/**
 * The end of a run (the writer process): the best checkpoint's test metrics and predictions,
 * `test_results.csv`, `summary.json` and `report.html`.
 */
async function finishRun(
  folder: RunFolder,
  backend: Backend,
  run: Omit<TrainResult, "test" | "testPredictions" | "testClassification" | "model">,
  classify: boolean,
): Promise<TrainResult> {
  const testSet = run.data.test;
  const { model } = await loadCheckpoint(folder.file("best"), { backend });
  let test: TrainResult["test"] = null;
  let testPredictions: Float32Array | null = null;
  let testClassification: TrainResult["testClassification"] = null;
  if (testSet.count > 0) {
    const t = evaluate(model, testSet);
    test = { mae: t.mae, rmse: t.rmse, r2: t.r2, n: t.n };
    testPredictions = t.predictions;
    if (classify) testClassification = classificationMetrics(testSet.targets, t.predictions);
    // Classification: CGCNN's test_results.csv columns are id, label, P(class 1).
    await writeRunFiles.testResults(folder.path, testSet, t.predictions).catch((e) => {
      model.dispose();
      throw savedSoFar(e, folder.path, run.history.length);
    });
  }
  const result: TrainResult = { ...run, testClassification, test, testPredictions, model };
  try {
    await writeRunFiles.summary(folder.path, result, backend);
    await writeRunFiles.report(folder.path, result);
  } catch (e) {
    model.dispose();
    throw savedSoFar(e, folder.path, run.history.length);
  }
  return result;
}

/** Data parallel: this process's shards, global statistics, SyncBN, fused all-reduce. */
async function trainDataParallel(
  c: ResolvedTrainConfig,
  given: TrainConfig,
  folder: RunFolder,
  hooks: TrainHooks,
  log: (line: string) => void,
  comm: Communicator,
  shards: number,
): Promise<TrainResult> {
  const rank0 = comm.rank === 0;
  const perProcess = shards / comm.size;
  const own = Array.from({ length: perProcess }, (_, k) => comm.rank * perProcess + k);
  const launch = detectLaunch();
  if (launch) {
    try {
      // One GPU per process on each node, by node-local rank.
      if (c.device !== "cpu" && !Deno.env.has("FACGCNN_CUDA_DEVICE")) {
        Deno.env.set("FACGCNN_CUDA_DEVICE", String(launch.localRank));
      }
      // The node's cores split among its processes (BLAS and OpenMP read these when the CPU
      // backend opens them, below), unless the user chose.
      const threads = Math.max(1, Math.floor(navigator.hardwareConcurrency / launch.localSize));
      for (const v of ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"]) {
        if (launch.localSize > 1 && !Deno.env.has(v)) Deno.env.set(v, String(threads));
      }
    } catch { /* no --allow-env: the defaults */ }
  }
  const data = await loadShardedData(c, shards, own, rank0, comm);
  const backend: Backend = selectBackend(c.device);
  const nTrain = data.shardSizes.reduce((a, b) => a + b, 0);
  const batchSize = resolveBatchSize(c.batchSize, nTrain);
  const plan = new BatchPlan(data.shardSizes, batchSize);
  if (rank0) {
    await folder.create();
    if (!c.resume) await folder.writeConfig(savedRunConfig(given, c));
    await reportSkipped(
      folder.path,
      data.skipped,
      nTrain + data.val.count + data.test.count,
      log,
    );
  }
  const model = new Model({ ...trainModelConfig(c), atomFeatures: data.atomFeatures }, backend);
  attachSyncBatchNorm(model, comm);
  const normalizer = reducedNormalizer(comm, data.train.targets);
  const baselineMae = reducedMeanAbsDeviation(comm, data.val.targets, normalizer.mean);
  model.targetMean = normalizer.mean;
  model.targetStd = normalizer.std;
  const training = runOptimizer(c, model);
  const { optimizer } = training;
  const reducer = gradientReducer(model, comm, log);
  const run: ParallelRun = { comm, shards, data, plan, reducer, seed: c.seed };
  let state: RunState;
  try {
    state = await runEpochs({
      c,
      folder,
      model,
      training,
      hooks,
      log,
      writer: rank0,
      baselineMae,
      // Rank 0 settles the folder (staged checkpoints of an interrupted epoch), then every
      // rank reads the same state (the run folder must be visible to all: a shared file system).
      resume: async () => {
        const state = rank0 ? await folder.resume(model, optimizer, backend) : null;
        comm.barrier();
        return state ?? await folder.resume(model, optimizer, backend, { readOnly: true });
      },
      describe:
        `training ${c.model} (${model.network.parameterCount()} parameters) data-parallel ` +
        `(${comm.description}), ${shards} shards of ${
          data.shardSizes.join("/")
        } crystals, val ${data.valTotal}, global batch ` +
        `${batchSize} (${plan.steps} steps/epoch), all-reduce ${
          (reducer.stats.bytes / 1024).toFixed(0)
        } KiB/step, ${c.optimizer} lr ${c.lr}, ${c.epochs} epochs → ${folder.path}`,
      work: {
        frameStream: (epoch) => frameStream(epoch, comm),
        train: (epoch) => parallelEpoch(model, optimizer, run, normalizer, epoch, c.epochs, hooks),
        reestimate: (epoch) => parallelReestimateBatchNorm(model, run, epoch, c.bnBatches),
        validate: () => reducedMetrics(comm, data.val.targets, model.predictGraphs(data.val)),
      },
    });
  } finally {
    reducer.dispose();
  }
  const base = {
    out: folder.path,
    config: { ...c, batchSize },
    history: state.history,
    bestEpoch: state.bestEpoch,
    bestValMae: state.bestValMae,
    meanPredictorValMae: baselineMae,
    data: {
      train: data.train,
      val: data.val,
      test: data.test,
      skipped: data.skipped,
      atomFeatures: data.atomFeatures,
    },
  };
  if (!rank0) {
    // The weights are the same on every rank; only rank 0 tests and reports.
    return { ...base, test: null, testPredictions: null, model };
  }
  model.dispose();
  return await finishRun(folder, backend, base, false);
}

/** The one-process loop (every crystal in this process). */
async function trainOneProcess(
  c: ResolvedTrainConfig,
  given: TrainConfig,
  folder: RunFolder,
  hooks: TrainHooks,
  log: (line: string) => void,
): Promise<TrainResult> {
  const out = folder.path;
  const data = await loadTrainingData(c);
  const classify = c.task === "classification";
  if (classify) {
    for (
      const [name, g] of [["training", data.train], ["validation", data.val], [
        "test",
        data.test,
      ]] as const
    ) {
      const positives = toClassLabels(g, c.threshold, name);
      if (name === "training" && (positives === 0 || positives === g.count)) {
        throw new RangeError(
          `classification needs both classes in the training set: ${positives} of ${g.count} ` +
            `are class 1${c.threshold !== undefined ? ` (target > ${c.threshold})` : ""}`,
        );
      }
    }
  }
  const backend: Backend = selectBackend(c.device);
  const batchSize = resolveBatchSize(c.batchSize, data.train.count);
  await folder.create();
  if (!c.resume) await folder.writeConfig(savedRunConfig(given, c));
  await reportSkipped(
    out,
    data.skipped,
    data.train.count + data.val.count + data.test.count,
    log,
  );

  const model = new Model({ ...trainModelConfig(c), atomFeatures: data.atomFeatures }, backend);
  // Classification trains on the labels as they are (CGCNN's classification normalizer is the
  // identity); the baseline is then predicting the training class-1 fraction for everyone.
  const normalizer = classify ? new Normalizer(0, 1) : Normalizer.fit(data.train.targets);
  const baselineMae = mae(
    data.val.targets,
    new Float64Array(data.val.count).fill(classify ? mean(data.train.targets) : normalizer.mean),
  );
  model.targetMean = normalizer.mean;
  model.targetStd = normalizer.std;
  const training = runOptimizer(c, model);
  const { optimizer } = training;
  let order: Int32Array = new Int32Array(0); // this epoch's order (BatchNorm re-estimation reuses it)
  const state = await runEpochs({
    c,
    folder,
    model,
    training,
    hooks,
    log,
    writer: true,
    baselineMae,
    resume: () => folder.resume(model, optimizer, backend),
    describe:
      `training ${c.model} (${model.parameters().length} tensors, ${model.network.parameterCount()} parameters) on ` +
      `${data.train.count}/${data.val.count}/${data.test.count} crystals, batch ${batchSize}, ` +
      `${c.optimizer} lr ${c.lr}, ${c.epochs} epochs → ${out}`,
    work: {
      frameStream: (epoch) => 100000 + epoch,
      train: (epoch) => {
        order = epochOrder(data.train.count, c.seed, epoch);
        return trainEpoch(
          model,
          optimizer,
          data.train,
          normalizer,
          order,
          batchSize,
          { epoch, epochs: c.epochs },
          hooks,
          classify ? { loss: binaryNllLoss } : {},
        );
      },
      reestimate: () => reestimateBatchNorm(model, data.train, order, batchSize, c.bnBatches),
      validate: () => {
        const v = evaluate(model, data.val);
        // Classification picks its best epoch by validation AUC (lib/train/best_epoch.ts).
        return classify
          ? { ...v, auc: classificationMetrics(data.val.targets, v.predictions).auc }
          : v;
      },
    },
  });
  model.dispose();
  return await finishRun(folder, backend, {
    out,
    config: { ...c, batchSize },
    history: state.history,
    bestEpoch: state.bestEpoch,
    bestValMae: state.bestValMae,
    meanPredictorValMae: baselineMae,
    data,
  }, classify);
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length ? s / values.length : 0;
}

/**
 * Early stopping: true once `patience` epochs have passed without a new best validation score
 * (every process sees the same reduced score, so all stop at the same epoch).
 */
export function stopEarly(
  patience: number | undefined,
  epoch: number,
  bestEpoch: number,
  log: (line: string) => void,
): boolean {
  if (patience === undefined || epoch - bestEpoch < patience) return false;
  log(`early stop after epoch ${epoch}: no better validation score for ${patience} epochs`);
  return true;
}
