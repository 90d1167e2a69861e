/**
 * The paper's experiment (Tables 1 and 2): CGCNN, FACGCNN (default frames), FACGCNN as in the
 * paper (PCA, raw Å) and FACGCNN without frame averaging at several epoch budgets, over
 * several seeds, each evaluated on the test set as is, with every test crystal rigidly and
 * randomly rotated (O(3)) and translated (the paper's Table 2), and with every cell's origin
 * randomly shifted and the atoms wrapped (the same crystal; moves PCA frames and w/o-FA
 * inputs); FACGCNN also with all 8 frames.
 * Mean ± standard error over seeds of R², MAE and RMSE.
 *
 * One training run of max(epochs) per variant and seed serves every budget: the learning
 * rate schedule does not depend on the total epoch count (constant for SF-AdamW, fixed
 * milestones otherwise) and runs are deterministic, so the first E epochs of a long run are
 * the E-epoch run; the model selected for budget E is the best-validation checkpoint within
 * those epochs (saved as `best_e<E>.safetensors`).
 * @module
 */

import { randomlyShiftGraphs, randomlyTransformGraphs } from "../crystal/transform.ts";
import type { GraphSet } from "../crystal/types.ts";
import type { FrameMode } from "../frames/select.ts";
import { writeFileAtomic, writeTextAtomic } from "../io/atomic.ts";
import type { Model } from "../models/model.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import {
  EXPERIMENT_DEFAULTS,
  type ExperimentVariant,
  resolveExperimentSettings,
} from "./config.ts";
import { formatMeanStdErr, meanStdErr, regressionMetrics } from "./metrics.ts";
import type { ExperimentRow } from "./records.ts";
import { experimentFigure, targetQuantity, writeReport } from "./report.ts";
import { train, type TrainConfig, type TrainHooks } from "./trainer.ts";

export type { ExperimentVariant } from "./config.ts";
export type { ExperimentRow } from "./records.ts";

/**
 * What `deno task experiment` runs.
 *
 * @example
 * ```ts
 * import { type ExperimentConfig, runExperiment } from "@facgcnn/toolkit";
 * const config: ExperimentConfig = { data: "synthetic:2000", seeds: 5, epochsList: [100, 200, 300], atomFeaLen: 128 };
 * const result = await runExperiment(config);
 * ```
 */
export interface ExperimentConfig extends TrainConfig {
  /** Number of seeds (5): seeds 0..n−1 (model initialisation and frame draws; the split is fixed). */
  seeds?: number;
  /** Epoch budgets ([100, 200, 300]). */
  epochsList?: number[];
  /** Variants to train (all three). */
  variants?: ExperimentVariant[];
  /** Output folder (`runs/experiment-<timestamp>`). */
  out?: string;
}

/**
 * The experiment's result (also written to `results.json`).
 *
 * @example
 * ```ts
 * import { type ExperimentResult, runExperiment } from "@facgcnn/toolkit";
 * const result: ExperimentResult = await runExperiment({ data: "synthetic:200", seeds: 2, epochsList: [3] });
 * for (const row of result.rows) console.log(row.label, row.mae.mean);
 * result; // in a Deno notebook: the results table
 * ```
 */
export interface ExperimentResult {
  /** Output folder. */
  out: string;
  /** Table rows. */
  rows: ExperimentRow[];
}

const VARIANT_LABEL: Record<ExperimentVariant, string> = {
  cgcnn: "CGCNN",
  facgcnn: "FACGCNN",
  "facgcnn-paper": "FACGCNN paper",
  "facgcnn-nofa": "FACGCNN w/o FA",
};

function variantConfig(
  v: ExperimentVariant,
): Pick<TrainConfig, "model" | "frames" | "frameKind" | "coordinates"> {
  if (v === "cgcnn") return { model: "cgcnn" };
  if (v === "facgcnn-paper") {
    return {
      model: "facgcnn",
      frames: "stochastic",
      frameKind: "pca",
      coordinates: { scale: 1, node: true },
    };
  }
  return { model: "facgcnn", frames: v === "facgcnn" ? "stochastic" : "none" };
}

/** How the test set is moved: as is, rigidly rotated, or origin shifted with wrapping. */
type TestMotion = "none" | "rotation" | "origin";

/** Evaluation settings of a variant: [test motion, eval frames, label suffix]. */
function evaluations(v: ExperimentVariant): [TestMotion, FrameMode | undefined, string][] {
  const out: [TestMotion, FrameMode | undefined, string][] = [
    ["none", undefined, ""],
    ["rotation", undefined, " + random rotation"],
    ["origin", undefined, " + origin shift"],
  ];
  if (v === "facgcnn" || v === "facgcnn-paper") {
    out.push(
      ["none", "all", ", 8-frame eval"],
      ["rotation", "all", ", 8-frame eval + random rotation"],
    );
  }
  return out;
}

function evaluateOn(model: Model, graphs: GraphSet, frames: FrameMode | undefined, seed: number) {
  model.reseedFrames(seed, 9);
  return regressionMetrics(graphs.targets, model.predictGraphs(graphs, { frames }));
}

/**
 * Runs the experiment; writes `results.json`, `results.md`, `results.html` and the run folders.
 *
 * @example
 * ```ts
 * import { runExperiment } from "@facgcnn/toolkit";
 * const result = await runExperiment({ data: "synthetic:500", seeds: 3, epochsList: [5, 10], atomFeaLen: 32 });
 * console.log(result.out); // results.md, results.json, results.html and the runs
 * ```
 */
export async function runExperiment(
  config: ExperimentConfig,
  hooks: TrainHooks = {},
): Promise<ExperimentResult> {
  const out = config.out ??
    `runs/experiment-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  const { seeds, budgets, variants, splitSeed } = resolveExperimentSettings(config);
  const log = hooks.log ?? ((l: string) => console.error(l));
  await Deno.mkdir(out, { recursive: true });

  const rows = new Map<string, ExperimentRow>();
  for (const variant of variants) {
    for (let seed = 0; seed < seeds; seed++) {
      const runDir = `${out}/runs/${variant}-seed${seed}`;
      log(
        `== ${VARIANT_LABEL[variant]}, seed ${seed} (${
          budgets[budgets.length - 1]
        } epochs) → ${runDir}`,
      );
      const result = await train({
        ...config,
        ...variantConfig(variant),
        seed,
        splitSeed,
        epochs: budgets[budgets.length - 1],
        out: runDir,
        resume: false,
      }, {
        ...hooks,
        onEpoch: async (record, best) => {
          await hooks.onEpoch?.(record, best);
          if (budgets.includes(record.epoch)) {
            await writeFileAtomic(
              `${runDir}/best_e${record.epoch}.safetensors`,
              await Deno.readFile(`${runDir}/best.safetensors`),
            );
          }
        },
      });
      const test = result.data.test;
      result.model.dispose();
      if (test.count === 0) {
        throw new RangeError(
          "the experiment needs a test set (--test-data or a split with a test share)",
        );
      }
      // Rigid random O(3) rotation + translation of each test crystal (Table 2), and
      // separately a random origin shift with wrapping (the same crystals, other point clouds).
      const moved: Record<TestMotion, GraphSet> = {
        none: test,
        rotation: randomlyTransformGraphs(test, 1000 + seed),
        origin: randomlyShiftGraphs(test, 2000 + seed),
      };
      for (const epochs of budgets) {
        const { model } = await loadCheckpoint(`${runDir}/best_e${epochs}.safetensors`, {
          backend: result.model.backend,
        });
        try {
          for (const [motion, frames, suffix] of evaluations(variant)) {
            const label = `${VARIANT_LABEL[variant]}${suffix} (${epochs} epochs)`;
            const m = evaluateOn(model, moved[motion], frames, seed);
            let row = rows.get(label);
            if (!row) {
              row = {
                label,
                variant,
                epochs,
                rotated: motion === "rotation",
                originShifted: motion === "origin",
                evalFrames: frames ?? model.config.frames,
                perSeed: [],
                r2: meanStdErr([]),
                mae: meanStdErr([]),
                rmse: meanStdErr([]),
              };
              rows.set(label, row);
            }
            row.perSeed.push({ seed, r2: m.r2, mae: m.mae, rmse: m.rmse });
          }
        } finally {
          model.dispose();
        }
      }
    }
  }
  const result: ExperimentResult = { out, rows: [...rows.values()] };
  for (const row of result.rows) {
    row.r2 = meanStdErr(row.perSeed.map((s) => s.r2));
    row.mae = meanStdErr(row.perSeed.map((s) => s.mae));
    row.rmse = meanStdErr(row.perSeed.map((s) => s.rmse));
  }
  await writeTextAtomic(
    `${out}/results.json`,
    JSON.stringify({ config, ...result }, null, 2) + "\n",
  );
  await writeTextAtomic(`${out}/results.md`, resultsMarkdown(result, config));
  const unit = targetQuantity(config).unit;
  await writeReport(`${out}/results.html`, [
    { title: "Test MAE", figure: experimentFigure(result.rows, "mae", { unit }) },
    { title: "Test RMSE", figure: experimentFigure(result.rows, "rmse", { unit }) },
    { title: "Test R²", figure: experimentFigure(result.rows, "r2") },
  ], { title: `Experiment ${out}` });
  return result;
}

/** The results table in Markdown (mean ± standard error over seeds). */
export function resultsMarkdown(result: ExperimentResult, config: ExperimentConfig): string {
  const lines = [
    `# Experiment results`,
    ``,
    `Data: ${config.data}${config.testData ? ` (test: ${config.testData})` : ""}; seeds: ${
      config.seeds ?? EXPERIMENT_DEFAULTS.seeds
    }; ` +
    `mean ± standard error over seeds; model selected by lowest validation MAE within each epoch budget.`,
    ``,
    `| Model | Epochs | Test moved | Eval frames | R² | MAE | RMSE |`,
    `|---|---|---|---|---|---|---|`,
  ];
  for (const r of result.rows) {
    const frames = r.variant === "cgcnn"
      ? "–"
      : typeof r.evalFrames === "object"
      ? `${r.evalFrames.sample}`
      : r.evalFrames;
    const name = r.label.replace(/ \(\d+ epochs\)$/, "");
    lines.push(
      `| ${name} | ${r.epochs} | ${
        r.rotated ? "rotated" : r.originShifted ? "origin shift" : "no"
      } | ${frames} | ${formatMeanStdErr(r.r2)} | ` +
        `${formatMeanStdErr(r.mae)} | ${formatMeanStdErr(r.rmse)} |`,
    );
  }
  return lines.join("\n") + "\n";
}
