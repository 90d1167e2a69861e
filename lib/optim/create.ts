/**
 * One place that maps an optimizer name (`--optimizer`) to its class, its learning-rate
 * schedule and whether its evaluation weights differ from the trained ones, so the trainer
 * and the CLI never switch on names themselves.
 * @module
 */

import { AdamW } from "./adamw.ts";
import type { Optimizer, OptimizerKind, OptimizerParameter } from "./optimizer.ts";
import { ConstantLR, type LRScheduler, MultiStepLR, type MultiStepLROptions } from "./schedule.ts";
import { ScheduleFreeAdamW } from "./schedule_free_adamw.ts";
import { SGD } from "./sgd.ts";

/** The optimizer names, for flag validation and help text. */
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ["sf-adamw", "adamw", "sgd"];

/**
 * Options shared by the three; each class's own defaults fill in what is left out.
 */
export interface CreateOptimizerOptions {
  /** Learning rate. */
  lr?: number;
  /** Weight decay (decoupled for the AdamW variants, L2 for SGD). */
  weightDecay?: number;
  /** SGD momentum. */
  momentum?: number;
  /** AdamW / SF-AdamW betas. */
  betas?: [number, number];
  /** SF-AdamW warmup steps. */
  warmupSteps?: number;
}

/** How each optimizer is built and driven: the only table keyed by optimizer name. */
interface OptimizerSpec {
  create(params: readonly OptimizerParameter[], options: CreateOptimizerOptions): Optimizer;
  /**
   * Schedule-Free AdamW needs no learning-rate schedule (Defazio et al. 2024: the averaging
   * replaces it) and evaluates at the averaged weights x, which were never run through the
   * network: BatchNorm statistics must be re-estimated there before evaluation.
   */
  scheduleFree: boolean;
}

const SPECS: Record<OptimizerKind, OptimizerSpec> = {
  "sf-adamw": {
    create: (params, o) =>
      new ScheduleFreeAdamW(params, {
        lr: o.lr,
        weightDecay: o.weightDecay,
        betas: o.betas,
        warmupSteps: o.warmupSteps,
      }),
    scheduleFree: true,
  },
  adamw: {
    create: (params, o) =>
      new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay, betas: o.betas }),
    scheduleFree: false,
  },
  sgd: {
    create: (params, o) =>
      new SGD(params, { lr: o.lr, weightDecay: o.weightDecay, momentum: o.momentum }),
    scheduleFree: false,
  },
};

function spec(kind: OptimizerKind): OptimizerSpec {
  if (!Object.hasOwn(SPECS, kind)) {
    throw new Error(`unknown optimizer "${kind}" (${OPTIMIZER_KINDS.join(", ")})`);
  }
  return SPECS[kind];
}

/**
 * Builds the optimizer named `kind` over `params`.
 *
 * @example
 * ```ts
 * import { createModel, createOptimizer } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * const opt = createOptimizer("sf-adamw", model.parameters(), { lr: 5e-4 });
 * opt.dispose();
 * model.dispose();
 * ```
 */
export function createOptimizer(
  kind: OptimizerKind,
  params: readonly OptimizerParameter[],
  options: CreateOptimizerOptions = {},
): Optimizer {
  return spec(kind).create(params, options);
}

/**
 * An optimizer with what the training loop needs to drive it.
 */
export interface TrainingOptimizer {
  /** The optimizer. */
  optimizer: Optimizer;
  /** Its per-epoch learning-rate schedule: constant for SF-AdamW, MultiStepLR otherwise. */
  scheduler: LRScheduler;
  /**
   * Whether BatchNorm statistics must be re-estimated after `optimizer.eval()` and before
   * evaluating (SF-AdamW: the evaluation weights x differ from the trained y).
   */
  reestimateBatchNorm: boolean;
}

/**
 * The optimizer named `kind` with its schedule (MultiStepLR `milestones`/`gamma` for AdamW
 * and SGD; SF-AdamW keeps lr constant).
 *
 * @example
 * ```ts
 * import { createModel, createTrainingOptimizer } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", device: "cpu" });
 * const { optimizer, scheduler, reestimateBatchNorm } = createTrainingOptimizer(
 *   "sgd", model.parameters(), { lr: 0.01, milestones: [100], gamma: 0.1 });
 * scheduler.step(); // after each epoch
 * optimizer.dispose();
 * model.dispose();
 * ```
 */
export function createTrainingOptimizer(
  kind: OptimizerKind,
  params: readonly OptimizerParameter[],
  options: CreateOptimizerOptions & MultiStepLROptions = {},
): TrainingOptimizer {
  const s = spec(kind);
  const optimizer = s.create(params, options);
  const scheduler = s.scheduleFree
    ? new ConstantLR(optimizer)
    : new MultiStepLR(optimizer, { milestones: options.milestones, gamma: options.gamma });
  return { optimizer, scheduler, reestimateBatchNorm: s.scheduleFree };
}
