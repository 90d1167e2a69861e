/**
 * One place that maps an optimizer name (`--optimizer`) to its class, so the trainer and
 * the CLI never switch on names themselves.
 * @module
 */

import { AdamW } from "./adamw.ts";
import type { Optimizer, OptimizerKind, OptimizerParameter } from "./optimizer.ts";
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
  switch (kind) {
    case "sf-adamw":
      return new ScheduleFreeAdamW(params, {
        lr: options.lr,
        weightDecay: options.weightDecay,
        betas: options.betas,
        warmupSteps: options.warmupSteps,
      });
    case "adamw":
      return new AdamW(params, {
        lr: options.lr,
        weightDecay: options.weightDecay,
        betas: options.betas,
      });
    case "sgd":
      return new SGD(params, {
        lr: options.lr,
        weightDecay: options.weightDecay,
        momentum: options.momentum,
      });
    default: {
      const never: never = kind;
      throw new Error(`unknown optimizer "${never}" (${OPTIMIZER_KINDS.join(", ")})`);
    }
  }
}
