/**
 * AdamW with PyTorch's semantics (`torch.optim.AdamW`, decoupled weight decay): per
 * parameter, with its own step count t (parameters without a gradient do not advance):
 *
 *   p ← p (1 − lr·wd);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
 *   p ← p − lr / (1 − β1^t) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
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
 * Hyperparameters of {@link AdamW}; the defaults are PyTorch's.
 */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** (β1, β2) (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Denominator term (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01, as PyTorch's AdamW). */
  weightDecay?: number;
}

/** The hyperparameters saved with the state. */
const HYPER = ["lr", "beta1", "beta2", "eps", "weightDecay"] as const;

/**
 * AdamW over a list of parameters (one parameter group).
 *
 * @example
 * ```ts
 * import { AdamW, createModel } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-2 });
 * // forward, loss.backward(), then:
 * opt.step();
 * opt.zeroGrad();
 * opt.dispose();
 * model.dispose();
 * ```
 */
export class AdamW implements Optimizer {
  /** Always `"adamw"`. */
  readonly kind = "adamw" as const;
  /** Learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** eps. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  readonly #params: readonly OptimizerParameter[];
  /** First and second moments m, v per parameter; its count is the step t. */
  readonly #state = new StateBuffers(["m", "v"], "t");

  /** Creates the optimizer; moments are allocated at each parameter's first step. */
  constructor(params: readonly OptimizerParameter[], options: AdamWOptions = {}) {
    checkParameterNames(params);
    this.#params = [...params];
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    if (!(this.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${this.lr}`);
  }

  /** One AdamW step of every parameter with a gradient. */
  step(): void {
    this.#state.forEachWithGrad(
      this.#params,
      (x) => ({ m: x.backend.alloc("float32", x.size), v: x.backend.alloc("float32", x.size) }),
      (x, g, s) => {
        s.count += 1;
        x.backend.adamWStep(x.storage, s.buffers.m, s.buffers.v, g, x.size, {
          lr: this.lr,
          beta1: this.beta1,
          beta2: this.beta2,
          eps: this.eps,
          weightDecay: this.weightDecay,
          biasCorrection1: 1 - this.beta1 ** s.count,
          biasCorrection2: 1 - this.beta2 ** s.count,
        });
      },
    );
  }

  /** Disposes every gradient and sets it to null. */
  zeroGrad(): void {
    dropGrads(this.#params);
  }

  /** No-op (AdamW evaluates at its iterate). */
  train(): void {}

  /** No-op (AdamW evaluates at its iterate). */
  eval(): void {}

  /** Host copy: hyperparameters, per-parameter step `t/<name>`, moments `m/<name>`, `v/<name>`. */
  stateDict(): OptimizerState {
    const scalars: OptimizerState["scalars"] = pickScalars(this, HYPER);
    const tensors: Record<string, Float32Array> = {};
    this.#state.save(this.#params, scalars, tensors);
    return { kind: this.kind, scalars, tensors };
  }

  /** Restores hyperparameters (as PyTorch does), step counts and moments by parameter name. */
  loadStateDict(state: OptimizerState): void {
    checkKind(state, this.kind);
    const hyper = readScalars(state, HYPER);
    this.#state.load(this.#params, state);
    Object.assign(this, hyper);
  }

  /** Frees the moments. */
  dispose(): void {
    this.#state.dispose();
  }
}
