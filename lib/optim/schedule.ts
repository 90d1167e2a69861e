/**
 * Learning-rate schedules, stepped once per epoch (PyTorch's `lr_scheduler` convention).
 * @module
 */

/**
 * Anything with a settable learning rate (every {@link Optimizer} qualifies).
 */
export interface HasLr {
  /** The learning rate a scheduler sets. */
  lr: number;
}

/**
 * A per-epoch learning-rate schedule driving an optimizer's `lr`.
 *
 * @example
 * ```ts
 * import { type LRScheduler, MultiStepLR } from "@facgcnn/toolkit";
 * const opt = { lr: 0.1 };
 * const schedule: LRScheduler = new MultiStepLR(opt, { milestones: [100] });
 * schedule.step(); // once per epoch
 * ```
 */
export interface LRScheduler {
  /** Epochs completed so far (0 before the first `step()`). */
  readonly lastEpoch: number;
  /** Advances one epoch and sets the optimizer's lr. Call after each training epoch. */
  step(): void;
  /** Counters for checkpoints. */
  stateDict(): { lastEpoch: number; baseLr: number };
  /** Restores counters and sets the optimizer's lr accordingly. */
  loadStateDict(state: { lastEpoch: number; baseLr: number }): void;
}

/**
 * Options of {@link MultiStepLR}; the defaults are CGCNN's (`--lr-milestones 100`, ×0.1).
 */
export interface MultiStepLROptions {
  /** Epochs at which lr is multiplied by `gamma` (default [100]). */
  milestones?: number[];
  /** Factor per milestone (default 0.1). */
  gamma?: number;
}

/**
 * MultiStepLR: lr = base · γ^(number of milestones ≤ epoch). Uses the closed form (as
 * PyTorch's `_get_closed_form_lr`) so resuming at any epoch gives the same value.
 *
 * @example
 * ```ts
 * import { createModel, createOptimizer, MultiStepLR } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", device: "cpu" });
 * const opt = createOptimizer("sgd", model.parameters(), { lr: 0.01 });
 * const schedule = new MultiStepLR(opt, { milestones: [100, 150], gamma: 0.1 });
 * // after each epoch:
 * schedule.step();
 * ```
 */
export class MultiStepLR implements LRScheduler {
  /** Sorted milestones. */
  readonly milestones: readonly number[];
  /** Factor per milestone. */
  readonly gamma: number;
  #baseLr: number;
  #lastEpoch = 0;

  /** Takes the optimizer's current lr as the base lr. */
  constructor(readonly optimizer: HasLr, options: MultiStepLROptions = {}) {
    this.milestones = [...(options.milestones ?? [100])].sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    if (!this.milestones.every((m) => Number.isInteger(m) && m >= 0)) {
      throw new RangeError(`milestones must be non-negative integers: ${this.milestones}`);
    }
    this.#baseLr = optimizer.lr;
  }

  /** Epochs completed so far. */
  get lastEpoch(): number {
    return this.#lastEpoch;
  }

  /** The lr for epoch index `epoch` (0-based, the epoch about to run). */
  lrAt(epoch: number): number {
    const passed = this.milestones.filter((m) => m <= epoch).length;
    return this.#baseLr * this.gamma ** passed;
  }

  /** Advances one epoch and sets the optimizer's lr. */
  step(): void {
    this.#lastEpoch += 1;
    this.optimizer.lr = this.lrAt(this.#lastEpoch);
  }

  /** `{ lastEpoch, baseLr }`. */
  stateDict(): { lastEpoch: number; baseLr: number } {
    return { lastEpoch: this.#lastEpoch, baseLr: this.#baseLr };
  }

  /** Restores the counters and sets the optimizer's lr for the restored epoch. */
  loadStateDict(state: { lastEpoch: number; baseLr: number }): void {
    this.#lastEpoch = state.lastEpoch;
    this.#baseLr = state.baseLr;
    this.optimizer.lr = this.lrAt(this.#lastEpoch);
  }
}

/** A schedule that keeps lr fixed (the paper's SF-AdamW runs); same interface. */
export class ConstantLR implements LRScheduler {
  #lastEpoch = 0;
  /** Keeps `optimizer.lr` as it is. */
  constructor(readonly optimizer: HasLr) {}
  /** Epochs completed so far. */
  get lastEpoch(): number {
    return this.#lastEpoch;
  }
  /** Counts the epoch; lr unchanged. */
  step(): void {
    this.#lastEpoch += 1;
  }
  /** `{ lastEpoch, baseLr }`. */
  stateDict(): { lastEpoch: number; baseLr: number } {
    return { lastEpoch: this.#lastEpoch, baseLr: this.optimizer.lr };
  }
  /** Restores the epoch counter and lr. */
  loadStateDict(state: { lastEpoch: number; baseLr: number }): void {
    this.#lastEpoch = state.lastEpoch;
    this.optimizer.lr = state.baseLr;
  }
}
