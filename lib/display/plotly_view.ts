/**
 * Plotly outputs for the Deno kernel that stay small: the figure as
 * `application/vnd.plotly.v1+json` (JupyterLab with its Plotly renderer, VS Code and nteract
 * draw it themselves, offline) and an HTML fallback that draws with the page's Plotly.js.
 * The 4.8 MB Plotly.js bundle is sent once, by {@linkcode plotlyLibrary}, instead of inside
 * every output: the Deno kernel drops multi-megabyte outputs intermittently (measured with
 * nbconvert: 1 in 5 at 0.5 MB, 3 in 5 at 2 MB) and Jupyter servers rate-limit IOPub.
 * {@linkcode plotlyMimeBundle} still gives a fully self-contained output when one is wanted.
 * @module
 */

import { PLOTLY_VERSION } from "../plot/bundle.ts";
import {
  PLOTLY_MIME,
  type PlotlyFigure,
  plotlyMimeBundle,
  plotlyScript,
  scriptJson,
} from "../plot/plotly.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./protocol.ts";

const CONFIG = { responsive: true, displaylogo: false };

/**
 * A small Jupyter bundle of a figure: Plotly JSON, HTML that draws it with `window.Plotly`
 * (waiting up to 10 s for {@linkcode plotlyLibrary}'s output to load it, then saying what to
 * do), and `text` as plain text.
 */
export function figureBundle(figure: PlotlyFigure, text: string): MimeBundle {
  const id = `plotly-${crypto.randomUUID()}`;
  const height = typeof figure.layout.height === "number" ? figure.layout.height : 480;
  const note = "Plotly.js is not loaded in this page: display plotlyLibrary() once (embeds " +
    "the bundle, works offline), or open the notebook in JupyterLab or VS Code, which draw " +
    "application/vnd.plotly.v1+json themselves.";
  const html = `<div id="${id}" style="width:100%;height:${height}px"></div>\n<script>` +
    `(function () { const fig = ${scriptJson(figure)}; let n = 0;` +
    ` const draw = () => { const el = document.getElementById(${JSON.stringify(id)});` +
    ` if (!el) return; if (window.Plotly) { window.Plotly.newPlot(el, fig.data, fig.layout, ` +
    `${JSON.stringify(CONFIG)}); } else if (n++ < 100) { setTimeout(draw, 100); }` +
    ` else { el.style.height = "auto"; el.textContent = ${
      JSON.stringify(note)
    }; } }; draw(); })();` +
    `</script>`;
  return { [PLOTLY_MIME]: figure, "text/html": html, "text/plain": text };
}

/**
 * The Plotly.js bundle as a displayable output (see {@linkcode plotlyLibrary}).
 *
 * @example
 * ```ts
 * import { PlotlyLibrary } from "@facgcnn/toolkit";
 * console.log(String(new PlotlyLibrary())); // "Plotly.js 4.1.2 (embedded, offline)"
 * ```
 */
export class PlotlyLibrary {
  /** Plain text: the version loaded. */
  toString(): string {
    return `Plotly.js ${PLOTLY_VERSION} (embedded, offline)`;
  }

  /** Jupyter MIME bundle: the whole bundle in a `<script>` (about 4.8 MB). */
  [JUPYTER_DISPLAY](): MimeBundle {
    return { "text/html": plotlyScript(), "text/plain": this.toString() };
  }
}

/**
 * Loads Plotly.js into the notebook page, from the bundled copy (no network): display it once
 * per notebook (e.g. as the last expression of the first cell) so that the HTML fallback of
 * every later figure draws, in classic Jupyter, nbviewer and exported HTML alike.
 *
 * @example
 * ```ts
 * import { plotlyLibrary } from "@facgcnn/toolkit";
 * plotlyLibrary(); // as the last expression of a notebook's first cell: loads Plotly.js offline
 * ```
 */
export function plotlyLibrary(): PlotlyLibrary {
  return new PlotlyLibrary();
}

/** A fully self-contained bundle (figure plus the embedded Plotly.js), for one-off outputs. */
export function standaloneFigureBundle(figure: PlotlyFigure, text: string): MimeBundle {
  return { ...plotlyMimeBundle(figure), "text/plain": text };
}
