/**
 * Figures of a training report (learning curves, parity plot, error histogram) and of an
 * experiment (mean ± standard error bars), as Plotly figure JSON; `writeReport` renders
 * them into one offline HTML file.
 * @module
 */

import { writeTextAtomic } from "../io/atomic.ts";
import { type PlotlyFigure, renderHtml, type ReportFigure } from "../plot/plotly.ts";
import { mae, type MeanStdErr, type Numbers, r2, rmse } from "./metrics.ts";
import type { EpochRecord, ExperimentRow } from "./records.ts";

/**
 * One epoch of training history as the learning curves need it: an `EpochRecord` (a row of
 * `metrics.csv`) where RMSE, R², lr and time may be missing.
 *
 * @example
 * ```ts
 * import { type HistoryPoint, learningCurves } from "@facgcnn/toolkit";
 * const history: HistoryPoint[] = [{ epoch: 1, trainLoss: 1, valMae: 0.5 }, { epoch: 2, trainLoss: 0.5, valMae: 0.4 }];
 * const figure = learningCurves(history);
 * ```
 */
export type HistoryPoint =
  & Pick<EpochRecord, "epoch" | "trainLoss" | "valMae">
  & Partial<Omit<EpochRecord, "epoch" | "trainLoss" | "valMae">>;

const BLUE = "#1f77b4";
const ORANGE = "#ff7f0e";
const GREEN = "#2ca02c";
const GREY = "#7f7f7f";

/** Plain JS numbers (typed arrays would serialise as objects); NaN/∞ become null. */
function plain(values: Numbers): (number | null)[] {
  return Array.from(values, (v) => (Number.isFinite(v) ? v : null));
}

/**
 * Learning curves: training loss (log scale) on top, validation MAE (and RMSE) below, and
 * R² in a third panel when present; the epoch of lowest validation MAE is marked.
 *
 * @example
 * ```ts
 * import { learningCurves, showFigure, train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 3 });
 * const figure = learningCurves(run.history);
 * showFigure(figure); // or renderHtml([{ title: "Curves", figure }], …)
 * run.model.dispose();
 * ```
 */
export function learningCurves(history: HistoryPoint[]): PlotlyFigure {
  const epochs = history.map((h) => h.epoch);
  const hasRmse = history.some((h) => h.valRmse !== undefined);
  const hasR2 = history.some((h) => h.valR2 !== undefined);
  const rows = hasR2 ? 3 : 2;
  const data: Record<string, unknown>[] = [
    {
      type: "scatter",
      mode: "lines+markers",
      name: "train loss",
      x: epochs,
      y: plain(history.map((h) => h.trainLoss)),
      xaxis: "x",
      yaxis: "y",
      line: { color: BLUE },
    },
    {
      type: "scatter",
      mode: "lines+markers",
      name: "val MAE",
      x: epochs,
      y: plain(history.map((h) => h.valMae)),
      xaxis: "x",
      yaxis: "y2",
      line: { color: ORANGE },
    },
  ];
  if (hasRmse) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: "val RMSE",
      x: epochs,
      y: plain(history.map((h) => h.valRmse ?? NaN)),
      xaxis: "x",
      yaxis: "y2",
      line: { color: ORANGE, dash: "dash" },
    });
  }
  if (hasR2) {
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: "val R²",
      x: epochs,
      y: plain(history.map((h) => h.valR2 ?? NaN)),
      xaxis: "x",
      yaxis: "y3",
      line: { color: GREEN },
    });
  }
  let best = -1;
  for (let i = 0; i < history.length; i++) {
    if (
      Number.isFinite(history[i].valMae) && (best < 0 || history[i].valMae < history[best].valMae)
    ) {
      best = i;
    }
  }
  if (best >= 0) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: `best (epoch ${history[best].epoch})`,
      x: [history[best].epoch],
      y: [history[best].valMae],
      xaxis: "x",
      yaxis: "y2",
      marker: { color: "red", size: 12, symbol: "star" },
    });
  }
  // Stacked panels share the epoch axis; domains split the height evenly, top to bottom.
  const gap = 0.06;
  const h = (1 - gap * (rows - 1)) / rows;
  const domain = (row: number) => [1 - (row + 1) * h - row * gap, 1 - row * h - row * gap];
  const layout: Record<string, unknown> = {
    title: { text: "Learning curves" },
    xaxis: { title: { text: "epoch" }, anchor: `y${rows}` },
    yaxis: { title: { text: "train loss (MSE, standardised)" }, type: "log", domain: domain(0) },
    yaxis2: { title: { text: "validation error" }, domain: domain(1), anchor: "x" },
    legend: { orientation: "h" },
    height: 260 * rows,
  };
  if (hasR2) layout.yaxis3 = { title: { text: "validation R²" }, domain: domain(2), anchor: "x" };
  return { data, layout };
}

/**
 * Options of {@link parityPlot}.
 *
 * @example
 * ```ts
 * import { type ParityOptions, parityPlot } from "@facgcnn/toolkit";
 * const options: ParityOptions = { title: "Test set", quantity: "band gap (eV)" };
 * const figure = parityPlot([1, 2], [1.1, 2.2], options);
 * ```
 */
export interface ParityOptions {
  /** Figure title. */
  title?: string;
  /** Axis label, e.g. "formation energy (eV/atom)". */
  quantity?: string;
}

/**
 * Predicted vs true values, one point per structure, with the y = x line and an R², MAE,
 * RMSE annotation. Uses WebGL scatter so tens of thousands of points stay responsive.
 *
 * @example
 * ```ts
 * import { parityPlot, train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 3 });
 * const figure = parityPlot(run.data.test.targets, run.testPredictions!, { quantity: "E (eV/atom)" });
 * run.model.dispose();
 * ```
 */
export function parityPlot(
  targets: Numbers,
  predictions: Numbers,
  options: ParityOptions = {},
): PlotlyFigure {
  const q = options.quantity ?? "target";
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of [targets, predictions]) {
    for (let i = 0; i < a.length; i++) {
      if (Number.isFinite(a[i])) {
        lo = Math.min(lo, a[i]);
        hi = Math.max(hi, a[i]);
      }
    }
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  const pad = (hi - lo) * 0.03 || 0.5;
  const range = [lo - pad, hi + pad];
  const text = `R² = ${r2(targets, predictions).toFixed(3)}<br>MAE = ${
    mae(targets, predictions).toPrecision(3)
  }<br>RMSE = ${rmse(targets, predictions).toPrecision(3)}<br>n = ${targets.length}`;
  return {
    data: [
      {
        type: "scattergl",
        mode: "markers",
        name: "structures",
        x: plain(targets),
        y: plain(predictions),
        marker: { color: BLUE, size: 4, opacity: 0.5 },
      },
      {
        type: "scatter",
        mode: "lines",
        name: "y = x",
        x: range,
        y: range,
        line: { color: GREY, dash: "dash" },
      },
    ],
    layout: {
      title: { text: options.title ?? "Parity" },
      xaxis: { title: { text: `true ${q}` }, range },
      yaxis: { title: { text: `predicted ${q}` }, range, scaleanchor: "x", scaleratio: 1 },
      annotations: [{
        xref: "paper",
        yref: "paper",
        x: 0.02,
        y: 0.98,
        xanchor: "left",
        yanchor: "top",
        showarrow: false,
        align: "left",
        text,
        bgcolor: "rgba(255,255,255,0.8)",
      }],
      showlegend: false,
      height: 560,
    },
  };
}

/**
 * Histogram of prediction − target, with the mean error in the title.
 *
 * @example
 * ```ts
 * import { errorHistogram, renderHtml } from "@facgcnn/toolkit";
 * const figure = errorHistogram([1, 2, 3], [1.2, 1.8, 3.1], { bins: 20 });
 * const html = renderHtml([{ title: "Errors", figure }], { title: "Errors" });
 * ```
 */
export function errorHistogram(
  targets: Numbers,
  predictions: Numbers,
  options: { title?: string; bins?: number } = {},
): PlotlyFigure {
  if (targets.length !== predictions.length) throw new RangeError("lengths differ");
  const errors = Array.from(targets, (t, i) => predictions[i] - t);
  const mean = errors.reduce((a, b) => a + b, 0) / Math.max(errors.length, 1);
  return {
    data: [{
      type: "histogram",
      name: "prediction − target",
      x: plain(errors),
      nbinsx: options.bins ?? 60,
      marker: { color: BLUE },
    }],
    layout: {
      title: { text: `${options.title ?? "Prediction errors"} (mean ${mean.toPrecision(3)})` },
      xaxis: { title: { text: "prediction − target" } },
      yaxis: { title: { text: "structures" } },
      shapes: [{
        type: "line",
        x0: 0,
        x1: 0,
        yref: "paper",
        y0: 0,
        y1: 1,
        line: { color: GREY, dash: "dash" },
      }],
      bargap: 0.02,
    },
  };
}

/**
 * One bar of an experiment chart: a table row's mean ± standard error for one metric.
 *
 * @example
 * ```ts
 * import { type ChartRow, experimentChart } from "@facgcnn/toolkit";
 * const rows: ChartRow[] = [{ label: "FACGCNN", mean: 0.08, stderr: NaN }]; // NaN: no error bar
 * const figure = experimentChart(rows);
 * ```
 */
export type ChartRow = Pick<ExperimentRow, "label"> & Pick<MeanStdErr, "mean" | "stderr">;

/**
 * Bar chart of mean ± standard error per row (e.g. test MAE of each model variant).
 *
 * @example
 * ```ts
 * import { experimentChart } from "@facgcnn/toolkit";
 * const figure = experimentChart([
 *   { label: "CGCNN", mean: 0.09, stderr: 0.002 },
 *   { label: "FACGCNN", mean: 0.08, stderr: 0.003 },
 * ], { metric: "MAE" });
 * ```
 */
export function experimentChart(
  rows: ChartRow[],
  options: { metric?: string; title?: string } = {},
): PlotlyFigure {
  const metric = options.metric ?? "value";
  return {
    data: [{
      type: "bar",
      name: metric,
      x: rows.map((r) => r.label),
      y: plain(rows.map((r) => r.mean)),
      error_y: { type: "data", array: plain(rows.map((r) => r.stderr)), visible: true },
      marker: { color: BLUE },
    }],
    layout: {
      title: { text: options.title ?? `${metric} (mean ± standard error)` },
      yaxis: { title: { text: metric } },
      xaxis: { automargin: true },
    },
  };
}

/** Renders `figures` into one offline HTML file at `path` (atomic write). */
export function writeReport(
  path: string,
  figures: ReportFigure[],
  options: { title: string },
): Promise<void> {
  return writeTextAtomic(path, renderHtml(figures, options));
}
