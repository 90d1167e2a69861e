/**
 * Displayable results: a training history (learning curves), predictions against targets
 * (parity plot and metrics), an experiment (a table), and any Plotly figure.
 * @module
 */

import { escapeHtml, type PlotlyFigure } from "../plot/plotly.ts";
import { figureBundle } from "./plotly_view.ts";
import type { ExperimentResult } from "../train/experiment.ts";
import {
  formatMeanStdErr,
  type Numbers,
  type RegressionMetrics,
  regressionMetrics,
} from "../train/metrics.ts";
import { learningCurves, type ParityOptions, parityPlot } from "../train/report.ts";
import type { EpochRecord, TrainResult } from "../train/trainer.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./protocol.ts";

function formatMetrics(m: RegressionMetrics): string {
  return `MAE ${m.mae.toPrecision(4)}, RMSE ${m.rmse.toPrecision(4)}, R² ${
    m.r2.toFixed(4)
  }, n = ${m.n}`;
}

/**
 * A Plotly figure that displays itself in the Deno kernel (see {@linkcode figureBundle}).
 *
 * @example
 * ```ts
 * import { FigureView, parityPlot } from "@facgcnn/toolkit";
 * new FigureView(parityPlot([1, 2, 3], [1.1, 1.9, 3.2]), "parity"); // displays the plot in a notebook
 * ```
 */
export class FigureView {
  /** The figure. */
  readonly figure: PlotlyFigure;
  /** Plain-text fallback. */
  readonly text: string;

  /** Wraps `figure`, with `text` as the plain-text fallback. */
  constructor(figure: PlotlyFigure, text = "Plotly figure") {
    this.figure = figure;
    this.text = text;
  }

  /** The plain-text fallback. */
  toString(): string {
    return this.text;
  }

  /** Jupyter MIME bundle: Plotly JSON, HTML drawing it (see `plotlyLibrary`), plain text. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return figureBundle(this.figure, this.text);
  }
}

/**
 * Displays any Plotly figure (e.g. from `learningCurves` or `parityPlot`).
 *
 * @example
 * ```ts
 * import { errorHistogram, showFigure } from "@facgcnn/toolkit";
 * showFigure(errorHistogram([1, 2, 3], [1.2, 1.9, 2.7]), "errors"); // any Plotly figure, displayed
 * ```
 */
export function showFigure(figure: PlotlyFigure, text?: string): FigureView {
  return new FigureView(figure, text);
}

/** One line about a training run: epochs, best epoch and validation MAE, test metrics. */
export function trainingSummary(result: TrainResult | EpochRecord[]): string {
  const history = Array.isArray(result) ? result : result.history;
  if (history.length === 0) return "no epochs";
  let best = history[0];
  for (const h of history) if (h.valMae < best.valMae) best = h;
  const last = history[history.length - 1];
  let line = `${history.length} epochs, last train loss ${last.trainLoss.toPrecision(4)}, ` +
    `best val MAE ${best.valMae.toPrecision(4)} at epoch ${best.epoch}`;
  if (!Array.isArray(result) && result.test) line += `; test ${formatMetrics(result.test)}`;
  return line;
}

/**
 * Learning curves of a run (`train()`'s result or its `history`), displayable.
 *
 * @example
 * ```ts
 * import { showTraining, train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 3, atomFeaLen: 32 });
 * showTraining(run.history); // learning curves (the result `run` itself displays them too)
 * run.model.dispose();
 * ```
 */
export function showTraining(result: TrainResult | EpochRecord[]): FigureView {
  const history = Array.isArray(result) ? result : result.history;
  return new FigureView(learningCurves(history), trainingSummary(result));
}

/** The Jupyter bundle of a training result (learning curves); used by `train()`'s result. */
export function trainingBundle(result: TrainResult | EpochRecord[]): MimeBundle {
  return showTraining(result)[JUPYTER_DISPLAY]();
}

/**
 * Predictions next to their targets: metrics, and a parity plot when displayed.
 *
 * @example
 * ```ts
 * import { PredictionResult } from "@facgcnn/toolkit";
 * const p = new PredictionResult([1, 2, 3], [1.1, 1.9, 3.2], { ids: ["a", "b", "c"] });
 * console.log(p.metrics.mae, p.toCsv());
 * ```
 */
export class PredictionResult {
  /** True values. */
  readonly targets: Numbers;
  /** Predicted values, same order. */
  readonly predictions: Numbers;
  /** Optional ids (structure names), same order. */
  readonly ids?: readonly string[];
  /** MAE, RMSE, R² and n. */
  readonly metrics: RegressionMetrics;
  /** Parity plot options (title, quantity). */
  readonly options: ParityOptions;

  /** Checks lengths and computes the metrics. */
  constructor(
    targets: Numbers,
    predictions: Numbers,
    options: ParityOptions & { ids?: readonly string[] } = {},
  ) {
    const { ids, ...parity } = options;
    if (ids && ids.length !== targets.length) {
      throw new RangeError(`${ids.length} ids for ${targets.length} targets`);
    }
    this.targets = targets;
    this.predictions = predictions;
    this.ids = ids;
    this.metrics = regressionMetrics(targets, predictions);
    this.options = parity;
  }

  /** The parity plot (predicted vs true, y = x line, metrics annotation). */
  figure(): PlotlyFigure {
    return parityPlot(this.targets, this.predictions, { ...this.options, ids: this.ids });
  }

  /** CSV text `id,target,prediction` (ids are row numbers when none were given). */
  toCsv(): string {
    const rows = ["id,target,prediction"];
    for (let i = 0; i < this.targets.length; i++) {
      const id = this.ids?.[i] ?? String(i);
      const quoted = /[",\n]/.test(id) ? `"${id.replace(/"/g, '""')}"` : id;
      rows.push(`${quoted},${this.targets[i]},${this.predictions[i]}`);
    }
    return rows.join("\n") + "\n";
  }

  /** The metrics in one line. */
  toString(): string {
    return formatMetrics(this.metrics);
  }

  /** Jupyter MIME bundle: the parity plot. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return new FigureView(this.figure(), this.toString())[JUPYTER_DISPLAY]();
  }
}

/**
 * Predictions against targets, displayed as a parity plot with R², MAE and RMSE.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, loadDataset, showPredictions } from "@facgcnn/toolkit";
 * const { model } = await loadCheckpoint("runs/example/best.safetensors");
 * const data = await loadDataset("synthetic:100:9");
 * const predictions = await model.predict(data, { frames: "all" });
 * const targets = Array.from({ length: data.length }, (_, i) => data.get(i).target);
 * showPredictions(targets, predictions, { quantity: "E (eV/atom)" }); // parity plot in a notebook
 * ```
 */
export function showPredictions(
  targets: Numbers,
  predictions: Numbers,
  options: ParityOptions & { ids?: readonly string[] } = {},
): PredictionResult {
  return new PredictionResult(targets, predictions, options);
}

function framesLabel(row: ExperimentResult["rows"][number]): string {
  if (row.variant === "cgcnn") return "–";
  return typeof row.evalFrames === "object" ? `${row.evalFrames.sample}` : row.evalFrames;
}

const COLUMNS = ["Model", "Epochs", "Test moved", "Eval frames", "R²", "MAE", "RMSE"];

function tableCells(result: ExperimentResult): string[][] {
  return result.rows.map((r) => [
    r.label.replace(/ \(\d+ epochs\)$/, ""),
    String(r.epochs),
    r.rotated ? "rotated" : r.originShifted ? "origin shift" : "no",
    framesLabel(r),
    formatMeanStdErr(r.r2),
    formatMeanStdErr(r.mae),
    formatMeanStdErr(r.rmse),
  ]);
}

/** The experiment's table in Markdown (mean ± standard error over seeds). */
export function experimentMarkdown(result: ExperimentResult): string {
  const lines = [`| ${COLUMNS.join(" | ")} |`, `|${COLUMNS.map(() => "---").join("|")}|`];
  for (const cells of tableCells(result)) lines.push(`| ${cells.join(" | ")} |`);
  return lines.join("\n") + "\n";
}

/** The experiment's table as an HTML `<table>` (one `<tr>` per row after the header). */
export function experimentHtml(result: ExperimentResult): string {
  const head = `<tr>${COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>`;
  const body = tableCells(result).map((cells) =>
    `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`
  );
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body.join("\n")}\n</tbody>\n</table>`;
}

/** The Jupyter bundle of an experiment: HTML table, Markdown table, plain text. */
export function experimentBundle(result: ExperimentResult): MimeBundle {
  const md = experimentMarkdown(result);
  return { "text/html": experimentHtml(result), "text/markdown": md, "text/plain": md };
}

/**
 * An experiment result as a displayable table.
 *
 * @example
 * ```ts
 * import { runExperiment, showExperiment } from "@facgcnn/toolkit";
 * const result = await runExperiment({ data: "synthetic:200", seeds: 2, epochsList: [3] });
 * showExperiment(result); // an ExperimentTable: HTML/Markdown table in a notebook
 * console.log(String(showExperiment(result)));
 * ```
 */
export class ExperimentTable {
  /** The result shown. */
  readonly result: ExperimentResult;

  /** Wraps `result`. */
  constructor(result: ExperimentResult) {
    this.result = result;
  }

  /** The Markdown table. */
  toString(): string {
    return experimentMarkdown(this.result);
  }

  /** Jupyter MIME bundle: the table. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return experimentBundle(this.result);
  }
}

/**
 * Displays an experiment's results (`runExperiment()`'s value) as a table.
 *
 * @example
 * ```ts
 * import { runExperiment, showExperiment } from "@facgcnn/toolkit";
 * const result = await runExperiment({ data: "synthetic:200", seeds: 2, epochsList: [3] });
 * showExperiment(result); // the results table (R², MAE, RMSE as mean ± standard error)
 * ```
 */
export function showExperiment(result: ExperimentResult): ExperimentTable {
  return new ExperimentTable(result);
}
