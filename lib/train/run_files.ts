/**
 * The files of a training run folder, each written atomically: `state.json` (resume point),
 * `metrics.csv`, `test_results.csv` (CGCNN's layout: id, target, prediction), `summary.json`
 * and `report.html` (Plotly, bundle embedded).
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { GraphSet } from "../crystal/types.ts";
import { computeFrames, degeneracyReport } from "../frames/select.ts";
import { writeTextAtomic } from "../io/atomic.ts";
import { renderHtml } from "../plot/plotly.ts";
import { errorHistogram, learningCurves, parityPlot, targetQuantity } from "./report.ts";
import type { EpochRecord, TrainResult } from "./records.ts";

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Degeneracy of the PCA frames over a graph set (for the summary). */
export function frameDegeneracy(graphs: GraphSet, gapTolerance = 1e-2) {
  const frames = computeFrames(graphs.positions, graphs.atomOffsets, graphs.lattices, "pca", {
    gapTolerance,
  });
  return degeneracyReport({ relativeGap: frames.relativeGap, segments: graphs.atomOffsets }, {
    gapTolerance,
  });
}

/** Writers of the run folder files. */
export const writeRunFiles = {
  /** `state.json`: epochs done, best epoch and MAE, history (what `--resume` reads). */
  state(out: string, state: unknown): Promise<void> {
    return writeTextAtomic(`${out}/state.json`, JSON.stringify(state, null, 1) + "\n");
  },

  /** `metrics.csv`: one row per epoch. */
  metrics(out: string, history: EpochRecord[]): Promise<void> {
    const rows = ["epoch,train_loss,val_mae,val_rmse,val_r2,lr,seconds"];
    for (const r of history) {
      rows.push(
        [r.epoch, r.trainLoss, r.valMae, r.valRmse, r.valR2, r.lr, r.seconds.toFixed(3)].join(","),
      );
    }
    return writeTextAtomic(`${out}/metrics.csv`, rows.join("\n") + "\n");
  },

  /** `test_results.csv`: id, target, prediction (no header, as CGCNN writes it). */
  testResults(out: string, graphs: GraphSet, predictions: Float32Array): Promise<void> {
    const rows: string[] = [];
    for (let i = 0; i < graphs.count; i++) {
      rows.push(`${csvField(graphs.ids[i])},${graphs.targets[i]},${predictions[i]}`);
    }
    return writeTextAtomic(`${out}/test_results.csv`, rows.join("\n") + "\n");
  },

  /** `summary.json`: test metrics, best epoch, data sizes, device, frame degeneracy. */
  summary(out: string, r: TrainResult, backend: Backend): Promise<void> {
    const info = backend.info();
    const all = [r.data.train, r.data.val, r.data.test];
    const deg = all.map((g) => frameDegeneracy(g));
    const summary = {
      model: r.config.model,
      frames: r.config.frames,
      frameKind: r.config.frameKind,
      test: r.test,
      ...(r.testClassification ? { testClassification: r.testClassification } : {}),
      bestEpoch: r.bestEpoch,
      bestValMae: r.bestValMae,
      meanPredictorValMae: r.meanPredictorValMae,
      epochs: r.history.length,
      seconds: r.history.reduce((s, h) => s + h.seconds, 0),
      data: {
        train: r.data.train.count,
        val: r.data.val.count,
        test: r.data.test.count,
        skipped: r.data.skipped.length,
      },
      device: { backend: info.name, device: info.device, gemm: info.gemm },
      frameDegeneracy: {
        total: deg.reduce((s, d) => s + d.total, 0),
        degenerate: deg.reduce((s, d) => s + d.degenerate, 0),
        exactDegenerate: deg.reduce((s, d) => s + d.exactDegenerate, 0),
        oneAtom: deg.reduce((s, d) => s + d.oneAtom, 0),
        gapTolerance: deg[0].gapTolerance,
      },
    };
    return writeTextAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  },

  /** `report.html`: learning curves, parity plot and error histogram of the test set. */
  async report(out: string, r: TrainResult): Promise<void> {
    const q = targetQuantity(r.config);
    const figures = [{
      title: "Learning curves",
      figure: learningCurves(r.history, { unit: q.unit }),
    }];
    if (r.test && r.testPredictions) {
      const targets = r.data.test.targets, predictions = r.testPredictions;
      figures.push(
        {
          title: "Test parity",
          figure: parityPlot(targets, predictions, {
            title: `${r.config.model}: test set`,
            quantity: q.name,
            unit: q.unit,
            ids: r.data.test.ids,
          }),
        },
        { title: "Test errors", figure: errorHistogram(targets, predictions, { unit: q.unit }) },
      );
    }
    await writeTextAtomic(
      `${out}/report.html`,
      renderHtml(figures, { title: `${r.config.model} run ${out}` }),
    );
  },
};
