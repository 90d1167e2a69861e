/**
 * One training step, as the trainer, the benchmarks and the GPU tests run it: forward pass,
 * loss, backward pass (inside one `tidy` scope, so every intermediate tensor is freed), then
 * the optimizer update. A step whose loss is not finite updates nothing.
 * @module
 */

import type { GraphBatch } from "../graph/batch.ts";
import type { Model } from "../models/model.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { mean, mseLoss, mul, softplus, tensor } from "../tensor/ops.ts";
import { tidy } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * The loss of a batch: predictions `[C, 1]` against targets `[C]` (on the scale the model
 * is trained on), a scalar tensor `[1]`.
 */
export type LossFunction = (predictions: Tensor, targets: Float32Array) => Tensor;

/**
 * CGCNN's classification loss, NLL of the log-softmax over two class scores, from the score
 * difference d = z₁ − z₀ `[C, 1]` the two-class network returns, and labels `[C]` in {0, 1}:
 * −log p_y = softplus(−d) for y = 1 and softplus(d) for y = 0, i.e. softplus((1 − 2y)·d),
 * averaged over the batch.
 */
export function binaryNllLoss(scoreDiff: Tensor, labels: Float32Array): Tensor {
  const sign = labels.map((y) => 1 - 2 * y);
  return mean(softplus(mul(scoreDiff, tensor(scoreDiff.backend, sign, [labels.length, 1]))));
}

/** Mean squared error of `[C, 1]` predictions against targets `[C]` (CGCNN's regression loss). */
export function mseTargetLoss(predictions: Tensor, targets: Float32Array): Tensor {
  return mseLoss(predictions, tensor(predictions.backend, targets, [targets.length, 1]));
}

/**
 * Options of a training step.
 */
export interface StepOptions {
  /** The loss (mean squared error by default). */
  loss?: LossFunction;
  /**
   * Called once the gradients are in the parameters and before the optimizer uses them
   * (the place for a data-parallel gradient all-reduce); not called when the loss is not
   * finite.
   */
  beforeUpdate?: () => void;
}

/**
 * Forward pass, loss and backward pass on one batch inside one `tidy` scope; the gradients
 * accumulate into the parameters (zero them before, as `trainStep` does after each update).
 * Returns the loss value.
 */
export function lossAndGradients(
  model: Model,
  batch: GraphBatch,
  targets: Float32Array,
  loss: LossFunction = mseTargetLoss,
): number {
  return tidy(() => {
    const l = loss(model.forward(batch), targets);
    l.backward();
    return l.item();
  });
}

/**
 * One training step: `lossAndGradients`, then the optimizer update and zeroed gradients.
 * When the loss is not finite the gradients are dropped and the weights stay as they were;
 * the caller sees the loss and decides (the trainer stops with `TrainingDivergedError`).
 *
 * @example
 * ```ts
 * import { collate, createModel, createOptimizer, loadGraphs, trainStep } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:32");
 * const model = createModel({ kind: "facgcnn", device: "cpu" }).train();
 * const optimizer = createOptimizer("sf-adamw", model.parameters(), { lr: 5e-4 });
 * const batch = collate(graphs, Int32Array.from({ length: 32 }, (_, i) => i));
 * const loss = trainStep(model, optimizer, batch, Float32Array.from(batch.targets));
 * optimizer.dispose();
 * model.dispose();
 * ```
 */
export function trainStep(
  model: Model,
  optimizer: Optimizer,
  batch: GraphBatch,
  targets: Float32Array,
  options: StepOptions = {},
): number {
  const loss = lossAndGradients(model, batch, targets, options.loss);
  if (!Number.isFinite(loss)) {
    optimizer.zeroGrad();
    return loss;
  }
  options.beforeUpdate?.();
  optimizer.step();
  optimizer.zeroGrad();
  return loss;
}
