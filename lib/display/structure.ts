/**
 * A 3-D Plotly view of a crystal: atoms as markers coloured by element (sized by covalent
 * radius), the unit cell's 12 edges, and a formula line.
 * @module
 */

import { COVALENT_RADIUS } from "../crystal/elements.ts";
import { cartesian, formula, latticeParameters, latticeVolume } from "../crystal/lattice.ts";
import { elementSymbol } from "../crystal/symbols.ts";
import type { Structure } from "../crystal/types.ts";
import { escapeHtml, type PlotlyFigure } from "../plot/plotly.ts";
import { figureBundle } from "./plotly_view.ts";
import { JUPYTER_DISPLAY, type MimeBundle } from "./protocol.ts";

// Jmol-like colours of common elements; others get a colour derived from Z.
const COLORS: Record<number, string> = {
  1: "#ffffff",
  3: "#cc80ff",
  5: "#ffb5b5",
  6: "#909090",
  7: "#3050f8",
  8: "#ff0d0d",
  9: "#90e050",
  11: "#ab5cf2",
  12: "#8aff00",
  13: "#bfa6a6",
  14: "#f0c8a0",
  15: "#ff8000",
  16: "#ffff30",
  17: "#1ff01f",
  19: "#8f40d4",
  20: "#3dff00",
  22: "#bfc2c7",
  26: "#e06633",
  27: "#f090a0",
  28: "#50d050",
  29: "#c88033",
  30: "#7d80b0",
  31: "#c28f8f",
  32: "#668f8f",
  34: "#ffa100",
  35: "#a62929",
  38: "#00ff00",
  47: "#c0c0c0",
  50: "#668080",
  53: "#940094",
  55: "#57178f",
  56: "#00c900",
  79: "#ffd123",
  82: "#575961",
};

/** The display colour of element `z` (CSS colour string). */
export function elementColor(z: number): string {
  return COLORS[z] ?? `hsl(${(z * 137.508) % 360}, 65%, 50%)`;
}

/** One line describing a structure: id, reduced formula, cell content, atoms, cell, volume. */
export function structureSummary(s: Structure): string {
  const p = latticeParameters(s.lattice);
  const f = (x: number, d = 3) => x.toFixed(d);
  const reduced = formula(s);
  const cell = formula(s, { reduced: false });
  return `${s.id}: ${reduced}${cell === reduced ? "" : ` (${cell})`}, ${s.numbers.length} atoms, ` +
    `a=${f(p.a)} b=${f(p.b)} c=${f(p.c)} Å, α=${f(p.alpha, 2)} β=${f(p.beta, 2)} γ=${
      f(p.gamma, 2)
    }°, V=${f(latticeVolume(s.lattice), 2)} Å³`;
}

/**
 * Options of {@link structureFigure}.
 */
export interface StructureFigureOptions {
  /** Figure title (default: id and formula). */
  title?: string;
  /** Draw the unit cell edges (true). */
  cell?: boolean;
}

/**
 * The Plotly figure of a structure: one `scatter3d` marker trace per element (legend entry
 * with the element symbol) and one line trace with the 12 unit-cell edges. Equal axis scales
 * (`aspectmode: "data"`), so angles and distances look right.
 *
 * @example
 * ```ts
 * import { renderHtml, structureFigure, syntheticCrystals } from "@facgcnn/toolkit";
 * const figure = structureFigure(syntheticCrystals({ count: 1, seed: 0 }).get(0).structure);
 * await Deno.writeTextFile("crystal.html", renderHtml([{ title: "Crystal", figure }], { title: "Crystal" }));
 * ```
 */
export function structureFigure(s: Structure, options: StructureFigureOptions = {}): PlotlyFigure {
  const xyz = cartesian(s);
  const bySpecies = new Map<number, number[]>();
  for (let i = 0; i < s.numbers.length; i++) {
    const z = s.numbers[i];
    if (!bySpecies.has(z)) bySpecies.set(z, []);
    bySpecies.get(z)!.push(i);
  }
  const data: Record<string, unknown>[] = [];
  for (const [z, atoms] of bySpecies) {
    const radius = COVALENT_RADIUS[z - 1] ?? 150;
    data.push({
      type: "scatter3d",
      mode: "markers",
      name: elementSymbol(z),
      x: atoms.map((i) => xyz[3 * i]),
      y: atoms.map((i) => xyz[3 * i + 1]),
      z: atoms.map((i) => xyz[3 * i + 2]),
      text: atoms.map((i) => `${elementSymbol(z)} #${i}`),
      hoverinfo: "text+x+y+z",
      marker: {
        size: 6 + radius / 15,
        color: elementColor(z),
        line: { color: "#333333", width: 1 },
        opacity: 0.95,
      },
    });
  }
  if (options.cell !== false) {
    const L = s.lattice;
    const corner = (i: number, j: number, k: number) =>
      [0, 1, 2].map((d) => i * L[d] + j * L[3 + d] + k * L[6 + d]);
    const x: (number | null)[] = [], y: (number | null)[] = [], z: (number | null)[] = [];
    const edges: [number[], number[]][] = [];
    for (const a of [0, 1]) {
      for (const b of [0, 1]) {
        edges.push([[0, a, b], [1, a, b]], [[a, 0, b], [a, 1, b]], [[a, b, 0], [a, b, 1]]);
      }
    }
    for (const [p, q] of edges) {
      const u = corner(p[0], p[1], p[2]);
      const v = corner(q[0], q[1], q[2]);
      x.push(u[0], v[0], null);
      y.push(u[1], v[1], null);
      z.push(u[2], v[2], null);
    }
    data.push({
      type: "scatter3d",
      mode: "lines",
      name: "unit cell",
      x,
      y,
      z,
      hoverinfo: "skip",
      line: { color: "#555555", width: 3 },
    });
  }
  const axis = (t: string) => ({ title: { text: `${t} (Å)` } });
  return {
    data,
    layout: {
      title: { text: options.title ?? `${s.id}: ${formula(s)}` },
      scene: { aspectmode: "data", xaxis: axis("x"), yaxis: axis("y"), zaxis: axis("z") },
      margin: { l: 0, r: 0, t: 40, b: 0 },
      legend: { itemsizing: "constant" },
      height: 480,
    },
  };
}

/**
 * The Jupyter bundle of a structure: the Plotly figure (`application/vnd.plotly.v1+json`),
 * HTML with the formula line above the plot (drawn with the page's Plotly.js, see
 * `plotlyLibrary`), and the summary as text.
 */
export function structureBundle(s: Structure): MimeBundle {
  const summary = structureSummary(s);
  const bundle = figureBundle(structureFigure(s), summary);
  return {
    ...bundle,
    "text/html": `<p><code>${escapeHtml(summary)}</code></p>\n${bundle["text/html"]}`,
  };
}

/**
 * A displayable view of a structure (see {@link showStructure}).
 *
 * @example
 * ```ts
 * import { StructureView, syntheticCrystals } from "@facgcnn/toolkit";
 * const view = new StructureView(syntheticCrystals({ count: 1, seed: 0 }).get(0).structure);
 * console.log(view.formula, view.figure().data.length);
 * ```
 */
export class StructureView {
  /** The structure shown. */
  readonly structure: Structure;

  /** Wraps `structure` (not copied). */
  constructor(structure: Structure) {
    this.structure = structure;
  }

  /** The reduced formula, e.g. "NaCl". */
  get formula(): string {
    return formula(this.structure);
  }

  /** The Plotly figure. */
  figure(options: StructureFigureOptions = {}): PlotlyFigure {
    return structureFigure(this.structure, options);
  }

  /** The one-line summary. */
  toString(): string {
    return structureSummary(this.structure);
  }

  /** Jupyter MIME bundle (Deno kernel). */
  [JUPYTER_DISPLAY](): MimeBundle {
    return structureBundle(this.structure);
  }
}

/**
 * Wraps a structure for display: the last expression of a Deno notebook cell shows a 3-D view
 * of the atoms and the unit cell under its formula line; elsewhere `String(view)` is a summary.
 *
 * @example
 * ```ts
 * import { showStructure, syntheticCrystals } from "@facgcnn/toolkit";
 * const view = showStructure(syntheticCrystals({ count: 1, seed: 0 }).get(0).structure);
 * console.log(String(view)); // "synthetic-0-0: …, a=… Å, …"; in a notebook: 3-D view
 * ```
 */
export function showStructure(structure: Structure): StructureView {
  return new StructureView(structure);
}
