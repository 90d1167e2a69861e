/**
 * The optimizer table (`lib/optim/create.ts`): each name builds its class, with the schedule
 * and BatchNorm policy the trainer needs, so the trainer never switches on names.
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { AdamW } from "../../lib/optim/adamw.ts";
import {
  createOptimizer,
  createTrainingOptimizer,
  OPTIMIZER_KINDS,
} from "../../lib/optim/create.ts";
import type { OptimizerKind } from "../../lib/optim/optimizer.ts";
import { ConstantLR, MultiStepLR } from "../../lib/optim/schedule.ts";
import { ScheduleFreeAdamW } from "../../lib/optim/schedule_free_adamw.ts";
import { SGD } from "../../lib/optim/sgd.ts";
import { param, release } from "./helpers.ts";

const CLASSES: Record<OptimizerKind, unknown> = {
  "sf-adamw": ScheduleFreeAdamW,
  adamw: AdamW,
  sgd: SGD,
};

Deno.test("createTrainingOptimizer: class, schedule and BatchNorm policy per name", () => {
  const backend = cpuBackend();
  for (const kind of OPTIMIZER_KINDS) {
    const p = param(backend, "w", [1, 2, 3]);
    const t = createTrainingOptimizer(kind, [p], { lr: 0.5, milestones: [2], gamma: 0.1 });
    try {
      assert.ok(t.optimizer instanceof (CLASSES[kind] as typeof SGD), kind);
      assert.equal(t.optimizer.kind, kind);
      assert.equal(t.optimizer.lr, 0.5);
      const scheduleFree = kind === "sf-adamw";
      assert.equal(t.reestimateBatchNorm, scheduleFree, kind);
      assert.ok(t.scheduler instanceof (scheduleFree ? ConstantLR : MultiStepLR), kind);
      const lrs = [1, 2, 3].map(() => (t.scheduler.step(), t.optimizer.lr));
      const expected = scheduleFree ? [0.5, 0.5, 0.5] : [0.5, 0.05, 0.05];
      lrs.forEach((lr, i) => assert.ok(Math.abs(lr - expected[i]) < 1e-12, `${kind}: ${lrs}`));
    } finally {
      release(t.optimizer, p);
    }
  }
});

Deno.test("createOptimizer: an unknown name is an error listing the names", () => {
  const backend = cpuBackend();
  const p = param(backend, "w", [1]);
  try {
    for (const bad of ["adam", "constructor", "toString"]) {
      assert.throws(
        () => createOptimizer(bad as OptimizerKind, [p]),
        new RegExp(`unknown optimizer "${bad}" \\(sf-adamw, adamw, sgd\\)`),
      );
      assert.throws(() => createTrainingOptimizer(bad as OptimizerKind, [p]), /unknown optimizer/);
    }
  } finally {
    release(p);
  }
});
