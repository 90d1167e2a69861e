/**
 * Schedule-Free AdamW (Defazio et al., 2024), following the reference
 * `adamw_schedulefree.py` of facebookresearch/schedule_free. Step k = 0, 1, …:
 *
 *   lr_t  = lr · min(1, (k+1)/warmup)
 *   v     = β2 v + (1−β2) g²;   denom = sqrt(v / (1 − β2^(k+1))) + eps
 *   lrmax = max(lrmax, lr_t);   w = (k+1)^r · lrmax^weight_lr_power;   W += w;   c = w / W
 *   ĝ     = g / denom + wd · y
 *   y     = y + c (z − y) + lr_t (β1 (1 − c) − 1) ĝ      (z before its update)
 *   z     = z − lr_t ĝ
 *
 * The host computes the scalars in float64; the backend's fused `scheduleFreeAdamWStep`
 * updates y, z, v in one pass per parameter. Parameters hold y while training; `eval()`
 * moves them to x = y + (1 − 1/β1)(z − y) and `train()` back (x + (1 − β1)(z − x) = y).
 * @module
 */

import {
  checkKind,
  checkParameterNames,
  cloneStorage,
  dropGrads,
  pickScalars,
  readScalars,
  StateBuffers,
} from "./buffers.ts";
import type { Optimizer, OptimizerParameter, OptimizerState } from "./optimizer.ts";

/**
 * Hyperparameters of {@link ScheduleFreeAdamW}; the defaults are the reference's.
 */
export interface ScheduleFreeAdamWOptions {
  /** Peak learning rate (default 0.0025). */
  lr?: number;
  /** (β1, β2) (default [0.9, 0.999]); β1 is the interpolation momentum. */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay applied at y (default 0). */
  weightDecay?: number;
  /** Linear warmup steps (default 0, none). */
  warmupSteps?: number;
  /** Polynomial weighting power of the averaging weights (default 0). */
  r?: number;
  /** Power of lrmax in the averaging weights (default 2). */
  weightLrPower?: number;
}

/**
 * Whether parameters hold y (training) or x (evaluation).
 */
export type ScheduleFreeMode = "train" | "eval";

/** The hyperparameters saved with the state. */
const HYPER = [
  "lr",
  "beta1",
  "beta2",
  "eps",
  "weightDecay",
  "warmupSteps",
  "r",
  "weightLrPower",
] as const;
/** The host counters saved with the state (besides the mode). */
const COUNTERS = ["k", "lrMax", "weightSum", "scheduledLr"] as const;

/**
 * Schedule-Free AdamW over a list of parameters (one parameter group).
 *
 * @example
 * ```ts
 * import { createModel, ScheduleFreeAdamW } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * const opt = new ScheduleFreeAdamW(model.parameters(), { lr: 5e-4 });
 * opt.train(); // before training steps (y weights)
 * opt.eval(); // before validation or saving (x weights)
 * opt.dispose();
 * model.dispose();
 * ```
 */
export class ScheduleFreeAdamW implements Optimizer {
  /** Always `"sf-adamw"`. */
  readonly kind = "sf-adamw" as const;
  /** Base (peak) learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** eps. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  /** Warmup steps. */
  warmupSteps: number;
  /** r. */
  r: number;
  /** weight_lr_power. */
  weightLrPower: number;
  #k = 0;
  #lrMax = 0;
  #weightSum = 0;
  #scheduledLr = 0;
  #mode: ScheduleFreeMode = "train";
  readonly #params: readonly OptimizerParameter[];
  /** z (the base sequence) and v (the second moment) per parameter. */
  readonly #state = new StateBuffers(["z", "v"]);

  /**
   * Creates the optimizer. State (z = copy of p, v = 0) is created at a parameter's first
   * step, as in the reference, so weights loaded after construction are picked up. The
   * optimizer starts in train mode; before any step x = y = z, so the mode is immaterial
   * until then.
   */
  constructor(params: readonly OptimizerParameter[], options: ScheduleFreeAdamWOptions = {}) {
    checkParameterNames(params);
    this.#params = [...params];
    this.lr = options.lr ?? 0.0025;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.warmupSteps = options.warmupSteps ?? 0;
    this.r = options.r ?? 0;
    this.weightLrPower = options.weightLrPower ?? 2;
    if (!(this.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${this.lr}`);
    if (!(this.beta1 > 0 && this.beta1 < 1)) {
      throw new RangeError(`β1 must be in (0, 1) for Schedule-Free, got ${this.beta1}`);
    }
    if (!(this.beta2 >= 0 && this.beta2 < 1)) throw new RangeError(`β2 must be in [0, 1)`);
  }

  /** Completed steps k. */
  get stepCount(): number {
    return this.#k;
  }

  /** lr_t of the last step (after warmup scaling), for logging. */
  get scheduledLr(): number {
    return this.#scheduledLr;
  }

  /** "train" (parameters hold y) or "eval" (parameters hold x). */
  get mode(): ScheduleFreeMode {
    return this.#mode;
  }

  /** One Schedule-Free AdamW step of every parameter with a gradient. Throws in eval mode. */
  step(): void {
    if (this.#mode !== "train") {
      throw new Error("ScheduleFreeAdamW.step() in eval mode: call train() before training");
    }
    const k = this.#k;
    const sched = k < this.warmupSteps ? (k + 1) / this.warmupSteps : 1;
    const lr = this.lr * sched;
    this.#scheduledLr = lr;
    this.#lrMax = Math.max(this.#lrMax, lr);
    const weight = (k + 1) ** this.r * this.#lrMax ** this.weightLrPower;
    this.#weightSum += weight;
    // The reference catches ZeroDivisionError (lr = 0 so far) and uses c = 0.
    const ckp1 = this.#weightSum === 0 ? 0 : weight / this.#weightSum;
    const scalars = {
      lr,
      beta1: this.beta1,
      beta2: this.beta2,
      biasCorrection2: 1 - this.beta2 ** (k + 1),
      eps: this.eps,
      weightDecay: this.weightDecay,
      ckp1,
    };
    this.#state.forEachWithGrad(
      this.#params,
      (t) => ({
        z: cloneStorage(t.backend, t.storage, t.size),
        v: t.backend.alloc("float32", t.size),
      }),
      (t, g, s) => {
        t.backend.scheduleFreeAdamWStep(t.storage, s.buffers.z, s.buffers.v, g, t.size, scalars);
      },
    );
    this.#k = k + 1;
  }

  /** Disposes every gradient and sets it to null. */
  zeroGrad(): void {
    dropGrads(this.#params);
  }

  /** p ← p + w (z − p) for every parameter with state, as `axpby(w, z, 1 − w, p)`. */
  #lerpToZ(w: number): void {
    for (const p of this.#params) {
      const s = this.#state.get(p.name);
      if (s === undefined) continue;
      p.value.backend.axpby(w, s.buffers.z, 1 - w, p.value.storage, p.value.size);
    }
  }

  /** Parameters to x: p ← p + (1 − 1/β1)(z − p). A second call is a no-op. */
  eval(): void {
    if (this.#mode === "eval") return;
    this.#lerpToZ(1 - 1 / this.beta1);
    this.#mode = "eval";
  }

  /** Parameters back to y: p ← p + (1 − β1)(z − p). A second call is a no-op. */
  train(): void {
    if (this.#mode === "train") return;
    this.#lerpToZ(1 - this.beta1);
    this.#mode = "train";
  }

  /**
   * Host copy of the state: hyperparameters, k, lr_max, weight_sum, the mode, and z, v per
   * parameter name. The mode tells which point (x or y) the model weights saved with it hold.
   */
  stateDict(): OptimizerState {
    const tensors: Record<string, Float32Array> = {};
    this.#state.save(this.#params, {}, tensors);
    return {
      kind: this.kind,
      scalars: {
        ...pickScalars(this, HYPER),
        k: this.#k,
        lrMax: this.#lrMax,
        weightSum: this.#weightSum,
        scheduledLr: this.#scheduledLr,
        mode: this.#mode,
      },
      tensors,
    };
  }

  /**
   * Restores hyperparameters (as PyTorch's `load_state_dict` does), counters and z, v by
   * parameter name (a parameter absent from the state starts fresh at its next step). The
   * mode is restored as saved: load the model weights saved with this state (x when saved in
   * eval mode) before calling `train()`.
   */
  loadStateDict(state: OptimizerState): void {
    checkKind(state, this.kind);
    const mode = state.scalars.mode;
    if (mode !== "train" && mode !== "eval") throw new Error(`bad optimizer mode ${mode}`);
    const hyper = readScalars(state, HYPER);
    const { k, lrMax, weightSum, scheduledLr } = readScalars(state, COUNTERS);
    this.#state.load(this.#params, state);
    Object.assign(this, hyper);
    this.#k = k;
    this.#lrMax = lrMax;
    this.#weightSum = weightSum;
    this.#scheduledLr = scheduledLr;
    this.#mode = mode;
  }

  /** Frees z and v of every parameter. */
  dispose(): void {
    this.#state.dispose();
  }
}
