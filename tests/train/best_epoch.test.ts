/**
 * Best-epoch selection: regression keeps the lowest validation MAE, classification the highest
 * validation AUC (CGCNN's rule), ties keep the earlier epoch; end to end, a classification run's
 * bestEpoch is the first epoch of highest recorded AUC and its best.safetensors reproduces it.
 */
import assert from "node:assert/strict";
import { isNewBest } from "../../lib/train/best_epoch.ts";
import { classificationMetrics } from "../../lib/train/metrics.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { train } from "../../lib/train/trainer.ts";
import { learningCurves } from "../../lib/train/report.ts";

/** The index the rule picks over a sequence of epochs, by replaying it. */
function pick(scores: { valMae: number; valAuc?: number }[]): number {
  let best = -1;
  for (let i = 0; i < scores.length; i++) {
    if (isNewBest(scores[i], best < 0 ? null : scores[best])) best = i;
  }
  return best;
}

Deno.test("isNewBest: regression by lowest MAE, ties and NaN keep the earlier epoch", () => {
  assert.equal(pick([{ valMae: 0.5 }, { valMae: 0.3 }, { valMae: 0.3 }, { valMae: 0.4 }]), 1);
  assert.equal(pick([{ valMae: NaN }, { valMae: 0.2 }, { valMae: NaN }]), 1);
});

Deno.test("isNewBest: classification by highest AUC, not MAE; ties keep the earlier epoch", () => {
  // Epoch 2 has the best MAE but a lower AUC; epochs 3 and 4 tie on the highest AUC.
  const scores = [
    { valMae: 0.40, valAuc: 0.70 },
    { valMae: 0.10, valAuc: 0.60 },
    { valMae: 0.30, valAuc: 0.90 },
    { valMae: 0.20, valAuc: 0.90 },
    { valMae: 0.35, valAuc: 0.85 },
  ];
  assert.equal(pick(scores), 2);
  // An undefined AUC (one class in validation) loses to a defined one, either way round.
  assert.equal(pick([{ valMae: 0.1, valAuc: NaN }, { valMae: 0.5, valAuc: 0.6 }]), 1);
  assert.equal(pick([{ valMae: 0.5, valAuc: 0.6 }, { valMae: 0.1, valAuc: NaN }]), 0);
  // Both undefined: the MAE of the probabilities decides.
  assert.equal(pick([{ valMae: 0.5, valAuc: NaN }, { valMae: 0.1, valAuc: NaN }]), 1);
});

Deno.test("the report's best-epoch star marks the selected epoch (AUC for classification)", () => {
  const names = (h: { epoch: number; trainLoss: number; valMae: number; valAuc?: number }[]) =>
    learningCurves(h).data.map((d) => d.name).filter((n) => /^best/.test(String(n)));
  const history = [
    { epoch: 1, trainLoss: 1, valMae: 0.4, valAuc: 0.7 },
    { epoch: 2, trainLoss: 1, valMae: 0.1, valAuc: 0.6 },
    { epoch: 3, trainLoss: 1, valMae: 0.3, valAuc: 0.9 },
  ];
  assert.deepEqual(names(history), ["best (epoch 3)"]);
  assert.deepEqual(names(history.map(({ valAuc: _, ...h }) => h)), ["best (epoch 2)"]);
});

Deno.test("classification run keeps the first epoch of highest validation AUC", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-best-auc-" });
  try {
    const run = await train({
      atomFeaLen: 16,
      hFeaLen: 16,
      nConv: 2,
      device: "cpu",
      cacheDir: null,
      data: "synthetic:160:8",
      task: "classification",
      threshold: -0.5,
      epochs: 4,
      batchSize: 32,
      out: `${dir}/run`,
      quiet: true,
    }, { log: () => {} });
    try {
      const aucs = run.history.map((r) => r.valAuc!);
      assert.ok(aucs.every((a) => typeof a === "number"), "every epoch records its val AUC");
      const top = Math.max(...aucs.filter(Number.isFinite));
      assert.equal(run.bestEpoch, run.history[aucs.indexOf(top)].epoch);
      // best.safetensors is that epoch's model: its validation AUC, recomputed, is the top one.
      const { model } = await loadCheckpoint(`${dir}/run/best.safetensors`, { device: "cpu" });
      const p = model.predictGraphs(run.data.val);
      model.dispose();
      const again = classificationMetrics(run.data.val.targets, p).auc;
      assert.ok(Math.abs(again - top) < 1e-6, `recomputed AUC ${again}, recorded ${top}`);
    } finally {
      run.model.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
