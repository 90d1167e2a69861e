/**
 * Grouped bar charts with error bars in side-by-side panels: one panel per group (a model),
 * categories along each panel's x axis (epoch budgets), one colour per series (test set as is
 * vs randomly rotated), so a figure reads like a results table with models as column blocks.
 * @module
 */

import type { PlotlyFigure } from "./plotly.ts";
import { wrapText } from "./text.ts";

/** One bar: a group (panel), an x category, a series (colour), a mean and its error bar. */
export interface BarCell {
  /** Panel title, e.g. "FACGCNN". */
  group: string;
  /** Category on the panel's x axis, e.g. an epoch budget. */
  x: string | number;
  /** Series (legend entry, colour), e.g. "randomly rotated test set". */
  series: string;
  /** Bar height. */
  mean: number;
  /** Half-length of the error bar; NaN or null draws none. */
  error: number | null;
}

/** Options of {@link groupedBars}. */
export interface GroupedBarsOptions {
  /** Figure title. */
  title?: string;
  /** y-axis title (shared by the panels). */
  yTitle?: string;
  /** x-axis title under every panel, e.g. "epochs". */
  xTitle?: string;
  /** Colours by series, in order of first appearance (a colour-blind-safe pair by default). */
  colors?: string[];
  /** Figure height in pixels (420). */
  height?: number;
}

const DEFAULT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

function finiteOrNull(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

/**
 * Panels side by side sharing one y axis; groups, categories and series keep their order of
 * first appearance. Missing cells leave a gap. Bars are grouped (not stacked).
 */
export function groupedBars(
  cells: readonly BarCell[],
  options: GroupedBarsOptions = {},
): PlotlyFigure {
  const groups = [...new Set(cells.map((c) => c.group))];
  const series = [...new Set(cells.map((c) => c.series))];
  const colors = options.colors ?? DEFAULT_COLORS;
  const n = Math.max(groups.length, 1);
  const gap = n > 1 ? 0.04 : 0;
  const width = (1 - gap * (n - 1)) / n;
  const data: Record<string, unknown>[] = [];
  // Panel titles wrap to the panel's width (about 7 px per bold 12 px character on a page about
  // 1000 px wide), and the top margin grows with the number of lines.
  const chars = Math.max(8, Math.floor((width * 1000) / 8));
  const titles = groups.map((g) => wrapText(g, chars));
  const titleLines = Math.max(1, ...titles.map((t) => t.split("<br>").length));
  const height = (options.height ?? 420) + 16 * (titleLines - 1);
  const margin = { t: 94 + 16 * titleLines, b: 60, l: 70, r: 20 };
  // The legend sits in the top margin above the panel titles (paper units: fraction of the
  // plotting area's height), so neither covers a bar or the other.
  const plotHeight = height - margin.t - margin.b;
  const layout: Record<string, unknown> = {
    title: { text: options.title ?? "", y: 0.98, yanchor: "top" },
    barmode: "group",
    height,
    margin,
    legend: {
      orientation: "h",
      x: 0,
      xanchor: "left",
      y: 1 + (14 + 16 * titleLines) / plotHeight,
      yanchor: "bottom",
    },
    annotations: [] as Record<string, unknown>[],
  };
  groups.forEach((g, gi) => {
    const ax = gi === 0 ? "" : String(gi + 1);
    const inGroup = cells.filter((c) => c.group === g);
    const categories = [...new Set(inGroup.map((c) => String(c.x)))];
    series.forEach((s, si) => {
      const own = inGroup.filter((c) => c.series === s);
      if (own.length === 0) return;
      data.push({
        type: "bar",
        name: s,
        legendgroup: s,
        showlegend: gi === groups.findIndex((gg) =>
          cells.some((c) => c.group === gg && c.series === s)
        ),
        x: own.map((c) => String(c.x)),
        y: own.map((c) => finiteOrNull(c.mean)),
        error_y: { type: "data", array: own.map((c) => finiteOrNull(c.error)), visible: true },
        marker: { color: colors[si % colors.length] },
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
        hovertemplate: `${g}<br>${
          options.xTitle ?? "x"
        } %{x}<br>${s}<br>%{y:.4g} ± %{error_y.array:.2g}<extra></extra>`,
      });
    });
    const x0 = gi * (width + gap);
    layout[`xaxis${ax}`] = {
      domain: [x0, x0 + width],
      type: "category",
      categoryorder: "array",
      categoryarray: categories,
      title: { text: options.xTitle ?? "" },
      anchor: `y${ax}`,
    };
    layout[`yaxis${ax}`] = gi === 0
      ? { title: { text: options.yTitle ?? "" }, anchor: "x", rangemode: "tozero" }
      : { matches: "y", showticklabels: false, anchor: `x${ax}` };
    (layout.annotations as Record<string, unknown>[]).push({
      text: titles[gi].split("<br>").map((t) => `<b>${t}</b>`).join("<br>"),
      xref: "paper",
      yref: "paper",
      x: x0 + width / 2,
      xanchor: "center",
      y: 1.0,
      yanchor: "bottom",
      yshift: 2,
      showarrow: false,
    });
  });
  return { data, layout };
}
