/**
 * Plotly figures as plain JSON (`{ data, layout }`), rendered into one self-contained HTML
 * file (bundle embedded, works offline) or a Jupyter MIME bundle.
 * @module
 */

import { PLOTLY_BUNDLE } from "./bundle.ts";

/**
 * A Plotly figure: traces and layout, exactly as `Plotly.newPlot` takes them.
 *
 * @example
 * ```ts
 * import { type PlotlyFigure, renderHtml } from "@facgcnn/toolkit";
 * const figure: PlotlyFigure = { data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: { title: { text: "Bars" } } };
 * const html = renderHtml([{ title: "Bars", figure }], { title: "Report" });
 * ```
 */
export interface PlotlyFigure {
  /** Traces. */
  data: Record<string, unknown>[];
  /** Layout. */
  layout: Record<string, unknown>;
}

/**
 * One figure of a report page with its heading.
 */
export interface ReportFigure {
  /** Heading shown above the figure. */
  title: string;
  /** The figure. */
  figure: PlotlyFigure;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/**
 * JSON safe inside `<script>`: `<` becomes `\u003c`, so no `</script>` or `<!--` can end or
 * confuse the element; the value parses back unchanged. NaN/±Infinity become null (JSON).
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * The bundle wrapped for inline use. `</script` and `<!--` are rewritten to `<\/script` and
 * `<\!--` (the same string inside JS literals, where they occur). `define`, `module` and
 * `exports` are shadowed so the UMD wrapper sets `window.Plotly` even where require.js is
 * loaded (classic Jupyter), and a page that already has Plotly does not load it twice.
 */
export function plotlyScript(): string {
  const safe = PLOTLY_BUNDLE.replace(/<\/script/gi, "<\\/script").replace(/<!--/g, "<\\!--");
  return `<script>if (typeof window.Plotly === "undefined") {(function (define, module, exports) {\n${safe}\n})(undefined, undefined, undefined);}</script>`;
}

const CONFIG = { responsive: true, displaylogo: false };

/** Default figure height (px) when the layout sets none. */
export const DEFAULT_FIGURE_HEIGHT = 480;

/**
 * CSS of a figure's box: exactly the figure's own height (a box smaller than the figure lets
 * it paint over whatever follows), and its width as a maximum when the layout fixes one (the
 * square parity plot), so the page never cuts or stretches it.
 */
export function plotBoxStyle(figure: PlotlyFigure): string {
  const h = Number(figure.layout.height);
  const w = Number(figure.layout.width);
  const height = Number.isFinite(h) && h > 0 ? h : DEFAULT_FIGURE_HEIGHT;
  return `height:${height}px` + (Number.isFinite(w) && w > 0 ? `;max-width:${w}px` : "");
}

/**
 * One self-contained HTML page: a heading, then each figure under its title. Figure JSON
 * sits in `<script type="application/json" id="figure-i">` blocks (easy to extract and
 * check), drawn by a small script after the embedded bundle.
 *
 * @example
 * ```ts
 * import { parityPlot, renderHtml } from "@facgcnn/toolkit";
 * const html = renderHtml([{ title: "Parity", figure: parityPlot([1, 2, 3], [1.1, 2.1, 2.8]) }], { title: "My run" });
 * await Deno.writeTextFile("report.html", html); // opens offline: Plotly.js is embedded
 * ```
 */
export function renderHtml(figures: ReportFigure[], options: { title: string }): string {
  const blocks = figures.map((f, i) =>
    `<section>\n<h2>${escapeHtml(f.title)}</h2>\n` +
    `<div id="plot-${i}" class="plot" style="${plotBoxStyle(f.figure)}"></div>\n` +
    `<script type="application/json" id="figure-${i}">${scriptJson(f.figure)}</script>\n</section>`
  ).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.plot { width: 100%; }
</style>
${plotlyScript()}
</head>
<body>
<h1>${escapeHtml(options.title)}</h1>
${blocks}
<script>
for (const el of document.querySelectorAll('script[id^="figure-"]')) {
  const fig = JSON.parse(el.textContent);
  Plotly.newPlot("plot-" + el.id.slice(7), fig.data, fig.layout, ${JSON.stringify(CONFIG)});
}
</script>
</body>
</html>
`;
}

/**
 * The MIME type Jupyter front ends (JupyterLab, VS Code) render natively.
 */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/**
 * A Jupyter display bundle: the Plotly MIME entry (rendered natively where supported) and
 * an HTML fallback that embeds the bundle, so the output also shows in plain notebook
 * viewers. In `deno jupyter`, return `{ [Symbol.for("Jupyter.display")]: () => bundle }`.
 *
 * @example
 * ```ts
 * import { learningCurves, plotlyMimeBundle } from "@facgcnn/toolkit";
 * const history = [{ epoch: 1, trainLoss: 1, valMae: 0.5 }, { epoch: 2, trainLoss: 0.6, valMae: 0.4 }];
 * const bundle = plotlyMimeBundle(learningCurves(history)); // self-contained (embeds Plotly.js)
 * const shown = { [Symbol.for("Jupyter.display")]: () => bundle };
 * ```
 */
export function plotlyMimeBundle(
  figure: PlotlyFigure,
): { [PLOTLY_MIME]: PlotlyFigure; "text/html": string } {
  const id = `plotly-${crypto.randomUUID()}`;
  const html =
    `<div id="${id}" style="width:100%;${plotBoxStyle(figure)}"></div>\n${plotlyScript()}\n` +
    `<script>{ const fig = ${scriptJson(figure)}; ` +
    `Plotly.newPlot(${JSON.stringify(id)}, fig.data, fig.layout, ${JSON.stringify(CONFIG)}); }` +
    `</script>`;
  return { [PLOTLY_MIME]: figure, "text/html": html };
}
