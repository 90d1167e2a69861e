/**
 * Figures of a training report (learning curves, parity plot, error histogram) and of an
 * experiment (mean ± standard error bars), as Plotly figure JSON; `writeReport` renders
 * them into one offline HTML file.
 * @module
 */

import { writeTextAtomic } from "../io/atomic.ts";
import { type PlotlyFigure, renderHtml, type ReportFigure } from "../plot/plotly.ts";
import { type BarCell, groupedBars } from "../plot/grouped_bars.ts";
import { wrapText } from "../plot/text.ts";
import { logTicks } from "../plot/ticks.ts";
import { isNewBest } from "./best_epoch.ts";
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
const PURPLE = "#9467bd";
const GREY = "#7f7f7f";

/** Plain JS numbers (typed arrays would serialise as objects); NaN/∞ become null. */
function plain(values: Numbers): (number | null)[] {
  return Array.from(values, (v) => (Number.isFinite(v) ? v : null));
}

/** "name (unit)", or the name alone when there is no unit. */
export function withUnit(name: string, unit?: string): string {
  return unit ? `${name} (${unit})` : name;
}

/**
 * What the figures call the target and its unit: `--target`'s name (or "energy per atom" for
 * the synthetic set and the usual formation-energy columns) and `--unit` (eV/atom for those
 * columns, none otherwise).
 *
 * @example
 * ```ts
 * import { targetQuantity } from "@facgcnn/toolkit";
 * console.log(targetQuantity({ data: "synthetic:100" })); // { name: "energy per atom", unit: "eV/atom" }
 * console.log(targetQuantity({ data: "x.csv", target: "band_gap", unit: "eV" }));
 * ```
 */
export function targetQuantity(
  config: { data?: string; target?: string; unit?: string },
): { name: string; unit?: string } {
  const energy = ["energy_pa", "formation_energy_per_atom", "energy_per_atom", "e_form"];
  const target = config.target;
  const known = target === undefined || energy.includes(target);
  const name = target ?? (config.data?.startsWith("synthetic:") ? "energy per atom" : "target");
  const unit = config.unit ??
    (known && (target !== undefined || config.data?.startsWith("synthetic:"))
      ? "eV/atom"
      : undefined);
  return unit ? { name, unit } : { name };
}

/** Options of {@link learningCurves}. */
export interface LearningCurveOptions {
  /** Unit of the validation errors, e.g. "eV/atom". */
  unit?: string;
  /** Figure title ("Learning curves"). */
  title?: string;
}

/**
 * Learning curves in stacked panels sharing the epoch axis: training loss (log scale, 1–2–5
 * ticks), validation MAE and RMSE (in the target's unit), validation R² when present and the
 * wall time of each epoch when present; the epoch of lowest validation MAE is marked.
 *
 * @example
 * ```ts
 * import { learningCurves, showFigure, train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 3 });
 * const figure = learningCurves(run.history, { unit: "eV/atom" });
 * showFigure(figure); // or renderHtml([{ title: "Curves", figure }], …)
 * run.model.dispose();
 * ```
 */
export function learningCurves(
  history: HistoryPoint[],
  options: LearningCurveOptions = {},
): PlotlyFigure {
  const epochs = history.map((h) => h.epoch);
  const hasRmse = history.some((h) => h.valRmse !== undefined);
  const hasR2 = history.some((h) => h.valR2 !== undefined);
  const hasTime = history.some((h) => h.seconds !== undefined);
  const panels = ["loss", "error", ...(hasR2 ? ["r2"] : []), ...(hasTime ? ["time"] : [])];
  const axis = (p: string) => {
    const i = panels.indexOf(p);
    return i === 0 ? "y" : `y${i + 1}`;
  };
  const line = (
    name: string,
    y: Numbers,
    panel: string,
    style: Record<string, unknown>,
    mode = "lines+markers",
  ) => ({
    type: "scatter",
    mode,
    name,
    x: epochs,
    y: plain(y),
    xaxis: "x",
    yaxis: axis(panel),
    ...style,
  });
  const losses = history.map((h) => h.trainLoss);
  const data: Record<string, unknown>[] = [
    line("train loss", losses, "loss", { line: { color: BLUE } }),
    line("val MAE", history.map((h) => h.valMae), "error", { line: { color: ORANGE } }),
  ];
  if (hasRmse) {
    data.push(
      line("val RMSE", history.map((h) => h.valRmse ?? NaN), "error", {
        line: { color: ORANGE, dash: "dash" },
      }, "lines"),
    );
  }
  if (hasR2) {
    data.push(line("val R²", history.map((h) => h.valR2 ?? NaN), "r2", { line: { color: GREEN } }));
  }
  if (hasTime) {
    data.push(
      line("time per epoch", history.map((h) => h.seconds ?? NaN), "time", {
        line: { color: PURPLE },
      }),
    );
  }
  // The epoch the run kept (lowest val MAE; classification: highest val AUC).
  let best = -1;
  for (let i = 0; i < history.length; i++) {
    if (isNewBest(history[i], best < 0 ? null : history[best])) best = i;
  }
  if (best >= 0) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: `best (epoch ${history[best].epoch})`,
      x: [history[best].epoch],
      y: [history[best].valMae],
      xaxis: "x",
      yaxis: axis("error"),
      marker: { color: "red", size: 12, symbol: "star" },
    });
  }
  // Stacked panels share the epoch axis; domains split the plotting height evenly, top to
  // bottom, with room between them for each panel's tick labels.
  const rows = panels.length;
  const panelPx = 200;
  const gapPx = 36;
  const margin = { t: 90, b: 60, l: 80, r: 30 };
  const plotPx = rows * panelPx + (rows - 1) * gapPx;
  const domain = (row: number): [number, number] => {
    const top = 1 - (row * (panelPx + gapPx)) / plotPx;
    return [Math.max(0, top - panelPx / plotPx), top];
  };
  const titles: Record<string, string> = {
    loss: "train loss<br>(MSE, standardised)",
    error: withUnit("val error", options.unit),
    r2: "val R²",
    time: "time per epoch (s)",
  };
  const layout: Record<string, unknown> = {
    title: { text: options.title ?? "Learning curves", y: 0.99, yanchor: "top" },
    xaxis: {
      title: { text: "epoch" },
      anchor: axis(panels[rows - 1]),
      range: [Math.min(...epochs, 1) - 0.5, Math.max(...epochs, 1) + 0.5],
      dtick: epochs.length > 12 ? undefined : 1,
    },
    legend: { orientation: "h", x: 0, xanchor: "left", y: 1 + 24 / plotPx, yanchor: "bottom" },
    margin,
    height: plotPx + margin.t + margin.b,
  };
  panels.forEach((p, row) => {
    const key = row === 0 ? "yaxis" : `yaxis${row + 1}`;
    const ax: Record<string, unknown> = {
      title: { text: titles[p] },
      domain: domain(row),
      anchor: "x",
    };
    if (p === "loss") Object.assign(ax, { type: "log", tickmode: "array", ...logTicks(losses) });
    if (p === "time") ax.rangemode = "tozero";
    layout[key] = ax;
  });
  return { data, layout };
}

/**
 * Options of {@link parityPlot}.
 *
 * @example
 * ```ts
 * import { type ParityOptions, parityPlot } from "@facgcnn/toolkit";
 * const options: ParityOptions = { title: "Test set", quantity: "band gap", unit: "eV", ids: ["a", "b"] };
 * const figure = parityPlot([1, 2], [1.1, 2.2], options);
 * ```
 */
export interface ParityOptions {
  /** Figure title. */
  title?: string;
  /** What is plotted, e.g. "formation energy" ("target"). */
  quantity?: string;
  /** Its unit, e.g. "eV/atom" (shown on both axes). */
  unit?: string;
  /** Structure ids, shown on hover (same order as the values). */
  ids?: readonly string[];
}

/**
 * Breaks a title into lines of at most `width` characters (at spaces, slashes or commas), so
 * it fits a narrow figure instead of running past its edges.
 */
export function wrapTitle(text: string, width: number): string {
  return wrapText(text, width);
}

/** Above this many points the parity plot uses WebGL (`scattergl`) to stay responsive. */
export const WEBGL_POINTS = 5000;

/**
 * Predicted vs true values, one point per structure (hover shows its id), on a square plot
 * with equal axis ranges and scales, the y = x line and an R², MAE, RMSE annotation.
 *
 * @example
 * ```ts
 * import { parityPlot, train } from "@facgcnn/toolkit";
 * const run = await train({ data: "synthetic:200", epochs: 3 });
 * const figure = parityPlot(run.data.test.targets, run.testPredictions!, { quantity: "E", unit: "eV/atom" });
 * run.model.dispose();
 * ```
 */
export function parityPlot(
  targets: Numbers,
  predictions: Numbers,
  options: ParityOptions = {},
): PlotlyFigure {
  const q = withUnit(options.quantity ?? "target", options.unit);
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
  const pad = (hi - lo) * 0.04 || 0.5;
  const range = [lo - pad, hi + pad];
  const text = `R² = ${r2(targets, predictions).toFixed(3)}   MAE = ${
    mae(targets, predictions).toPrecision(3)
  }   RMSE = ${rmse(targets, predictions).toPrecision(3)}   n = ${targets.length}`;
  const ids = options.ids ? Array.from(options.ids, String) : undefined;
  const axis = (title: string) => ({
    title: { text: title },
    range,
    constrain: "domain",
    zeroline: false,
    automargin: true,
  });
  return {
    data: [
      {
        type: targets.length > WEBGL_POINTS ? "scattergl" : "scatter",
        mode: "markers",
        name: "structures",
        x: plain(targets),
        y: plain(predictions),
        ...(ids ? { text: ids } : {}),
        hovertemplate: (ids ? "%{text}<br>" : "") +
          "true %{x:.4g}<br>predicted %{y:.4g}<extra></extra>",
        marker: { color: BLUE, size: 5, opacity: 0.6 },
      },
      {
        type: "scatter",
        mode: "lines",
        name: "y = x",
        x: range,
        y: range,
        hoverinfo: "skip",
        line: { color: GREY, dash: "dash" },
      },
    ],
    layout: {
      title: { text: wrapTitle(options.title ?? "Parity", 50) },
      xaxis: axis(`true ${q}`),
      yaxis: { ...axis(`predicted ${q}`), scaleanchor: "x", scaleratio: 1 },
      // The metrics sit in the top margin, above the data, so they never hide a point or a tick.
      annotations: [{
        xref: "paper",
        yref: "paper",
        x: 0,
        y: 1,
        xanchor: "left",
        yanchor: "bottom",
        yshift: 6,
        showarrow: false,
        align: "left",
        text,
      }],
      showlegend: false,
      // Square: the plotting area is as wide as it is tall (600 − 80 − 40 = 640 − 80 − 80),
      // and with equal ranges and scaleanchor the scales are equal too.
      width: 600,
      height: 640,
      margin: { l: 80, r: 40, t: 80, b: 80 },
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
  options: { title?: string; bins?: number; unit?: string } = {},
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
      xaxis: { title: { text: withUnit("prediction − target", options.unit) } },
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

/**
 * The fields of an experiment table row that {@link experimentFigure} reads.
 *
 * @example
 * ```ts
 * import { experimentFigure, type ExperimentFigureRow } from "@facgcnn/toolkit";
 * const m = { mean: 0.1, stderr: 0.01, n: 3 };
 * const row: ExperimentFigureRow = { label: "CGCNN (100 epochs)", epochs: 100, rotated: false, r2: m, mae: m, rmse: m };
 * const figure = experimentFigure([row], "mae");
 * ```
 */
export interface ExperimentFigureRow {
  /** Row label: the model, "+ random rotation" when rotated, "(N epochs)" at the end. */
  label: string;
  /** Epoch budget. */
  epochs: number;
  /** Whether the test crystals were randomly rotated and translated. */
  rotated: boolean;
  /** Whether the test cells' origins were randomly shifted (atoms wrapped). */
  originShifted?: boolean;
  /** R² over seeds. */
  r2: MeanStdErr;
  /** MAE over seeds. */
  mae: MeanStdErr;
  /** RMSE over seeds. */
  rmse: MeanStdErr;
}

const METRIC_NAME = { mae: "test MAE", rmse: "test RMSE", r2: "test R²" } as const;

/**
 * One experiment metric laid out like the paper's Tables 1–2: a panel per model (CGCNN,
 * FACGCNN, FACGCNN with 8-frame evaluation, FACGCNN without frame averaging), epoch budgets
 * along each panel's axis, the test set as is, randomly rotated and origin-shifted as colours
 * (in order of first appearance), error bars
 * one standard error of the mean over seeds (none with one seed).
 *
 * @example
 * ```ts
 * import { experimentFigure, runExperiment } from "@facgcnn/toolkit";
 * const { rows } = await runExperiment({ data: "synthetic:200", seeds: 2, epochsList: [2, 4] });
 * const figure = experimentFigure(rows, "mae", { unit: "eV/atom" });
 * ```
 */
export function experimentFigure(
  rows: readonly ExperimentFigureRow[],
  metric: "mae" | "rmse" | "r2",
  options: { unit?: string; title?: string } = {},
): PlotlyFigure {
  const cells: BarCell[] = rows.map((r) => ({
    group: r.label.replace(/ \(\d+ epochs?\)$/, "").replace(
      / \+ (random rotation|origin shift)$/,
      "",
    ),
    x: r.epochs,
    series: r.rotated
      ? "test set randomly rotated"
      : r.originShifted
      ? "test cells' origin shifted"
      : "test set as is",
    mean: r[metric].mean,
    error: r[metric].stderr,
  }));
  const name = METRIC_NAME[metric];
  const seeds = Math.max(0, ...rows.map((r) => r[metric].n));
  return groupedBars(cells, {
    title: options.title ??
      `${name}: mean ± standard error over ${seeds} seed${seeds === 1 ? "" : "s"}`,
    yTitle: metric === "r2" ? name : withUnit(name, options.unit),
    xTitle: "epochs",
    colors: [BLUE, ORANGE, GREEN],
  });
}

/** Renders `figures` into one offline HTML file at `path` (atomic write). */
export function writeReport(
  path: string,
  figures: ReportFigure[],
  options: { title: string },
): Promise<void> {
  return writeTextAtomic(path, renderHtml(figures, options));
}
