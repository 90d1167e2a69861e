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
import { createTrainingOptimizer } from "../optim/create.ts";
import "../autograd/backward.ts"; // installs Tensor.backward()
import { loadCheckpoint } from "./checkpoint.ts";
import {
  resolveBatchSize,
  resolveTrainConfig,
  savedRunConfig,
  type TrainConfig,
  trainModelConfig,
} from "./config.ts";
import { loadTrainingData } from "./data.ts";
import { epochOrder, evaluate, reestimateBatchNorm, trainEpoch, type TrainHooks } from "./epoch.ts";
import { mae } from "./metrics.ts";
import { Normalizer } from "./normalizer.ts";
import type { EpochRecord, TrainResult } from "./records.ts";
import { defaultRunFolder, RunFolder, type RunState } from "./run_folder.ts";
import { writeRunFiles } from "./run_files.ts";

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
  const log = hooks.log ?? ((line: string) => console.error(line));
  const folder = new RunFolder(config.out ?? defaultRunFolder());
  const out = folder.path;
  let given: TrainConfig = { ...config, out };
  if (given.resume) {
    // The saved configuration wins over flags, except the epoch count (to extend a run).
    const saved = await folder.readConfig();
    given = { ...saved, epochs: config.epochs ?? saved.epochs, out, resume: true };
  }
  const c = resolveTrainConfig(given);
  const data = await loadTrainingData(c);
  const backend: Backend = selectBackend(c.device);
  const batchSize = resolveBatchSize(c.batchSize, data.train.count);
  await folder.create();
  if (!c.resume) await folder.writeConfig(savedRunConfig(given, c));

  const model = new Model({ ...trainModelConfig(c), atomFeatures: data.atomFeatures }, backend);
  const normalizer = Normalizer.fit(data.train.targets);
  const baselineMae = mae(data.val.targets, new Float64Array(data.val.count).fill(normalizer.mean));
  model.targetMean = normalizer.mean;
  model.targetStd = normalizer.std;
  const { optimizer, scheduler, reestimateBatchNorm: reestimate } = createTrainingOptimizer(
    c.optimizer,
    model.parameters(),
    {
      lr: c.lr,
      weightDecay: c.weightDecay,
      momentum: c.momentum,
      warmupSteps: c.warmupSteps,
      milestones: c.milestones,
      gamma: c.gamma,
    },
  );

  let state: RunState = { epochsDone: 0, bestEpoch: 0, bestValMae: Infinity, history: [] };
  try {
    if (c.resume) {
      state = await folder.resume(model, optimizer, backend);
      for (let e = 0; e < state.epochsDone; e++) scheduler.step();
      log(
        `resuming ${out} after epoch ${state.epochsDone} (best epoch ${state.bestEpoch}, val MAE ${state.bestValMae})`,
      );
    }
    log(
      `training ${c.model} (${model.parameters().length} tensors, ${model.network.parameterCount()} parameters) on ` +
        `${data.train.count}/${data.val.count}/${data.test.count} crystals, batch ${batchSize}, ` +
        `${c.optimizer} lr ${c.lr}, ${c.epochs} epochs → ${out}`,
    );
    log(`baseline: predicting the training mean gives val MAE ${baselineMae.toFixed(4)}`);
    for (let epoch = state.epochsDone + 1; epoch <= c.epochs; epoch++) {
      const t0 = performance.now();
      const order = epochOrder(data.train.count, c.seed, epoch);
      model.reseedFrames(c.seed, 100000 + epoch);
      model.train();
      optimizer.train();
      const lr = optimizer.lr;
      const at = { epoch, epochs: c.epochs };
      const trainLoss = trainEpoch(
        model,
        optimizer,
        data.train,
        normalizer,
        order,
        batchSize,
        at,
        hooks,
      );
      optimizer.eval();
      if (reestimate) reestimateBatchNorm(model, data.train, order, batchSize, c.bnBatches);
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
      if (best) {
        state.bestEpoch = epoch;
        state.bestValMae = val.mae;
      }
      await folder.commitEpoch(state, model, optimizer, best, {
        mae: val.mae,
        rmse: val.rmse,
        r2: val.r2,
      });
      await hooks.onEpoch?.(record, best);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }

  model.dispose();
  const { model: bestModel } = await loadCheckpoint(folder.file("best"), { backend });
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
    config: { ...c, batchSize },
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
