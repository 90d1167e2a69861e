/**
 * Tick positions for log-scale axes. Plotly's own log ticks label sub-decade positions with
 * their first digit only when the range spans less than a few decades ("1, 5, 2, 0.1, 5"),
 * which reads as noise; these ticks are the 1–2–5 sequence (or whole decades on wide ranges)
 * with their full values as labels.
 * @module
 */

/** Explicit ticks for a Plotly axis: positions and their labels. */
export interface Ticks {
  /** Tick positions in data units. */
  tickvals: number[];
  /** One label per position. */
  ticktext: string[];
}

/** A short label: at most 3 significant digits, no trailing zeros, exponent for extremes. */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split("e");
    return `${String(Number(m))}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(3)));
}

/**
 * Ticks for a log axis covering the positive finite values of `values`: finer steps (1, 1.5,
 * 2, 3, 5, 7 or denser) when the data span less than about a decade, 1, 2, 5 × 10^k up to three
 * decades, every decade when wider, every few decades when very wide. Empty when there is no positive
 * value (Plotly then falls back to its own ticks).
 */
export function logTicks(values: Iterable<number>): Ticks {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v) && v > 0) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) return { tickvals: [], ticktext: [] };
  const k0 = Math.floor(Math.log10(lo));
  const k1 = Math.ceil(Math.log10(hi));
  const decades = k1 - k0;
  // Density follows the span of the data itself (a factor of 1.5 needs finer ticks than a
  // factor of 500), so a narrow range still gets at least two labelled ticks.
  const span = Math.log10(hi / lo);
  let mantissas: number[];
  let step = 1;
  if (span < 0.4) mantissas = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9];
  else if (span < 1.2) mantissas = [1, 1.5, 2, 3, 5, 7];
  else if (decades <= 3) mantissas = [1, 2, 5];
  else {
    mantissas = [1];
    step = decades <= 8 ? 1 : Math.ceil(decades / 6);
  }
  const vals: number[] = [];
  for (let k = k0; k < k1 + step; k += step) {
    for (const m of mantissas) vals.push(Number((m * 10 ** k).toPrecision(3)));
  }
  // Keep the ticks inside the data range plus one tick either side, so the axis (which Plotly
  // pads a little) still shows labels near its ends.
  let first = vals.findIndex((v) => v >= lo);
  let last = vals.findLastIndex((v) => v <= hi);
  if (first < 0) first = vals.length - 1;
  if (last < 0) last = 0;
  const kept = vals.slice(Math.max(0, first - 1), Math.min(vals.length, last + 2));
  return { tickvals: kept, ticktext: kept.map(tickLabel) };
}
