/**
 * The Plotly.js browser bundle as text, so reports embed it and open offline.
 *
 * A static text import (Deno ≥ 2.4, no flag needed in 2.9) keeps `renderHtml` synchronous
 * and lets Deno install the npm package like any other dependency. Only the report modules
 * import this file, so commands that write no report do not load the 4.8 MB string.
 * @module
 */

// A full npm: specifier, not the import map's bare name, so scripts outside the repository
// (which do not see deno.json) can import mod.ts.
// deno-lint-ignore no-import-prefix
import source from "npm:plotly.js-dist-min@4.1.2/plotly.min.js" with { type: "text" };

/** The minified Plotly.js bundle (`plotly.js-dist-min`, pinned here and in `deno.json`). */
export const PLOTLY_BUNDLE: string = source;

/** The bundled Plotly.js version, read from its banner (e.g. "4.1.2"), or "unknown". */
export const PLOTLY_VERSION: string =
  /plotly\.js v(\d+\.\d+\.\d+)/.exec(source.slice(0, 200))?.[1] ??
    "unknown";
