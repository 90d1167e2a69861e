/**
 * The interface every optimizer implements, its serialisable state, and small helpers for
 * per-parameter state buffers in backend storage.
 *
 * Optimizers keep their state on the device (one fused backend launch per parameter per
 * step, `Backend.*Step`); only a handful of scalars (step counts, the learning rate, the
 * Schedule-Free weight sum) live on the host, in float64. Shared internals of the three
 * optimizers are in `buffers.ts`.
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";

/**
 * What an optimizer needs from a parameter: a stable name (the key of its state in
 * checkpoints) and the tensor it updates in place, whose `.grad` holds the gradient.
 * `nn`'s `Parameter` has exactly this shape.
 */
export interface OptimizerParameter {
  /** Unique name; keys the state in checkpoints. */
  name: string;
  /** The tensor updated in place; its `grad` is read by `step()`. */
  value: Tensor;
}

/**
 * The optimizers this toolkit has (the `--optimizer` values).
 */
export type OptimizerKind = "sf-adamw" | "adamw" | "sgd";

/**
 * An optimizer's state as plain host data, for checkpoints. `scalars` holds
 * hyperparameters and counters (JSON-safe float64 numbers); `tensors` holds per-parameter
 * buffers keyed `<buffer>/<parameter name>` (e.g. `z/conv.0.fc.weight`).
 *
 * @example
 * ```ts
 * import { createModel, createOptimizer, type OptimizerState } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", device: "cpu" });
 * const opt = createOptimizer("adamw", model.parameters(), { lr: 1e-3 });
 * const state: OptimizerState = opt.stateDict();
 * opt.loadStateDict(state);
 * ```
 */
export interface OptimizerState {
  /** The optimizer that wrote this state. */
  kind: OptimizerKind;
  /** Hyperparameters and counters. */
  scalars: Record<string, number | boolean | string>;
  /** Per-parameter buffers keyed `<buffer>/<parameter name>`. */
  tensors: Record<string, Float32Array>;
}

/**
 * The common optimizer interface the trainer drives.
 *
 * @example
 * ```ts
 * import { createModel, createOptimizer, type Optimizer } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", device: "cpu" });
 * const opt: Optimizer = createOptimizer("adamw", model.parameters(), { lr: 1e-3 });
 * console.log(opt.kind, opt.lr);
 * opt.dispose();
 * model.dispose();
 * ```
 */
export interface Optimizer {
  /** Which algorithm this is. */
  readonly kind: OptimizerKind;
  /** Base learning rate (schedulers set it; Schedule-Free warmup scales it inside `step`). */
  lr: number;
  /** One update of every parameter that has a gradient; parameters with `grad === null` are skipped. */
  step(): void;
  /** Drops the gradients (disposes them and sets `grad = null`, PyTorch's `set_to_none`). */
  zeroGrad(): void;
  /** Puts the parameters in training form (Schedule-Free: y). A no-op for AdamW and SGD. */
  train(): void;
  /** Puts the parameters in evaluation form (Schedule-Free: x). A no-op for AdamW and SGD. */
  eval(): void;
  /** A host copy of the state (hyperparameters, counters, buffers). */
  stateDict(): OptimizerState;
  /** Restores a state from {@link Optimizer.stateDict}; buffers are matched by parameter name. */
  loadStateDict(state: OptimizerState): void;
  /** Frees the state storage. The optimizer must not be used afterwards. */
  dispose(): void;
}
