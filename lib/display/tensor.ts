/**
 * Tensor display: shape, dtype, device and the first values (no Plotly). The `Tensor`
 * class calls {@link tensorBundle} from its `[Symbol.for("Jupyter.display")]()` method.
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { MimeBundle } from "./protocol.ts";

const ROWS = 4;
const COLS = 6;

function fmt(v: number, dtype: string): string {
  return dtype === "int32" ? String(v) : Number.isInteger(v) ? v.toFixed(1) : v.toPrecision(5);
}

/** The first rows and columns of a tensor as strings, `"…"` marking what is cut off. */
export function tensorPreview(t: Tensor): string[][] {
  if (t.disposed) return [];
  const values = t.toArray();
  const rows = t.shape.length === 2 ? t.shape[0] : 1;
  const cols = t.shape.length === 2 ? t.shape[1] : t.shape[0];
  const out: string[][] = [];
  for (let r = 0; r < Math.min(rows, ROWS); r++) {
    const row: string[] = [];
    for (let c = 0; c < Math.min(cols, COLS); c++) row.push(fmt(values[r * cols + c], t.dtype));
    if (cols > COLS) row.push("…");
    out.push(row);
  }
  if (rows > ROWS) out.push(["…"]);
  return out;
}

/** Plain-text and HTML views of a tensor: `Tensor[3, 4] float32 cpu` and a few values. */
export function tensorBundle(t: Tensor): MimeBundle {
  const head = t.disposed ? `${t} (disposed)` : String(t);
  const preview = tensorPreview(t);
  const text = [head, ...preview.map((r) => "  " + r.join("  "))].join("\n");
  const cells = preview.map((r) => `<tr>${r.map((v) => `<td>${v}</td>`).join("")}</tr>`);
  const html = `<div><code>${head.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</code>` +
    (cells.length ? `<table>${cells.join("")}</table>` : "") + `</div>`;
  return { "text/plain": text, "text/html": html };
}
