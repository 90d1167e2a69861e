/**
 * SGD with momentum and (coupled, L2) weight decay, PyTorch's `torch.optim.SGD` without
 * dampening or Nesterov:
 *
 *   d = g + wd · p;   buf = d on the first step, else momentum · buf + d;   p ← p − lr · buf
 *
 * With momentum 0 the buffer is just d (PyTorch keeps none; we keep one so the backend's
 * fused step has a single shape).
 * @module
 */

import {
  checkKind,
  checkParameterNames,
  dropGrads,
  pickScalars,
  readScalars,
  StateBuffers,
} from "./buffers.ts";
import type { Optimizer, OptimizerParameter, OptimizerState } from "./optimizer.ts";

/**
 * Hyperparameters of {@link SGD}; the defaults are CGCNN's (`main.py`: lr 0.01, momentum 0.9).
 */
export interface SgdOptions {
  /** Learning rate (default 0.01). */
  lr?: number;
  /** Momentum (default 0.9). */
  momentum?: number;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

/** The hyperparameters saved with the state. */
const HYPER = ["lr", "momentum", "weightDecay"] as const;

/**
 * SGD with momentum over a list of parameters (one parameter group).
 *
 * @example
 * ```ts
 * import { createModel, SGD } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", device: "cpu" });
 * const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
 * opt.dispose();
 * model.dispose();
 * ```
 */
export class SGD implements Optimizer {
  /** Always `"sgd"`. */
  readonly kind = "sgd" as const;
  /** Learning rate. */
  lr: number;
  /** Momentum. */
  momentum: number;
  /** Weight decay. */
  weightDecay: number;
  readonly #params: readonly OptimizerParameter[];
  /** The momentum buffer per parameter; its count is the number of steps taken. */
  readonly #state = new StateBuffers(["buf"], "steps");

  /** Creates the optimizer; momentum buffers are allocated at each parameter's first step. */
  constructor(params: readonly OptimizerParameter[], options: SgdOptions = {}) {
    checkParameterNames(params);
    this.#params = [...params];
    this.lr = options.lr ?? 0.01;
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${this.lr}`);
    if (!(this.momentum >= 0)) throw new RangeError(`momentum must be ≥ 0`);
  }

  /** One SGD step of every parameter with a gradient. */
  step(): void {
    this.#state.forEachWithGrad(
      this.#params,
      (x) => ({ buf: x.backend.alloc("float32", x.size) }),
      (x, g, s) => {
        x.backend.sgdStep(x.storage, s.buffers.buf, g, x.size, {
          lr: this.lr,
          momentum: this.momentum,
          weightDecay: this.weightDecay,
          firstStep: s.count === 0,
        });
        s.count += 1;
      },
    );
  }

  /** Disposes every gradient and sets it to null. */
  zeroGrad(): void {
    dropGrads(this.#params);
  }

  /** No-op. */
  train(): void {}

  /** No-op. */
  eval(): void {}

  /** Host copy: hyperparameters, per-parameter step counts `steps/<name>` and buffers `buf/<name>`. */
  stateDict(): OptimizerState {
    const scalars: OptimizerState["scalars"] = pickScalars(this, HYPER);
    const tensors: Record<string, Float32Array> = {};
    this.#state.save(this.#params, scalars, tensors);
    return { kind: this.kind, scalars, tensors };
  }

  /** Restores hyperparameters (as PyTorch does), step counts and momentum buffers by name. */
  loadStateDict(state: OptimizerState): void {
    checkKind(state, this.kind);
    const hyper = readScalars(state, HYPER);
    this.#state.load(this.#params, state);
    Object.assign(this, hyper);
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    this.#state.dispose();
  }
}
