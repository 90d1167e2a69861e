import assert from "node:assert/strict";
import { groupedBars } from "../../lib/plot/grouped_bars.ts";
import { plotBoxStyle, renderHtml } from "../../lib/plot/plotly.ts";
import { logTicks, tickLabel } from "../../lib/plot/ticks.ts";
import {
  errorHistogram,
  experimentFigure,
  type ExperimentFigureRow,
  learningCurves,
  parityPlot,
  targetQuantity,
  WEBGL_POINTS,
  wrapTitle,
} from "../../lib/train/report.ts";

type Trace = Record<string, unknown> & { x: unknown[]; y: unknown[] };

Deno.test("tickLabel: short labels, no float noise", () => {
  assert.equal(tickLabel(0.30000000000000004), "0.3");
  assert.equal(tickLabel(2), "2");
  assert.equal(tickLabel(0.05), "0.05");
  assert.equal(tickLabel(1.5e-5), "1.5e-5");
  assert.equal(tickLabel(2e6), "2e6");
});

Deno.test("logTicks: increasing, readable, covering the data, dense enough on narrow ranges", () => {
  // Plotly's own ticks read "1, 5, 2, 0.1, 5" here; ours are full values in order.
  const wide = logTicks([0.08, 0.5, 3]);
  assert.deepEqual(wide.ticktext, ["0.05", "0.1", "0.2", "0.5", "1", "2", "5"]);
  const narrow = logTicks([0.55, 0.8, 1.04]); // less than a factor of 2
  const inside = narrow.tickvals.filter((v) => v >= 0.55 && v <= 1.04);
  assert.ok(inside.length >= 3, `ticks inside the range: ${inside}`);
  for (const t of [wide, narrow, logTicks([1e-6, 1e3])]) {
    assert.equal(t.tickvals.length, t.ticktext.length);
    for (let i = 1; i < t.tickvals.length; i++) assert.ok(t.tickvals[i] > t.tickvals[i - 1]);
    for (const s of t.ticktext) assert.match(s, /^\d+(\.\d{1,3})?(e-?\d+)?$/);
  }
  const huge = logTicks([1e-6, 1e3]);
  assert.ok(huge.tickvals.length <= 12, "wide ranges get decades, not a crowd");
  assert.ok(huge.tickvals[0] <= 1e-6 && huge.tickvals.at(-1)! >= 1e3);
  assert.deepEqual(logTicks([0, -1, NaN]), { tickvals: [], ticktext: [] });
});

Deno.test("learningCurves: units on the error axis, log ticks on the loss, a time panel", () => {
  const history = [1, 2, 3].map((epoch) => ({
    epoch,
    trainLoss: 1 / epoch,
    valMae: 0.3 / epoch,
    valRmse: 0.4 / epoch,
    valR2: 0.5,
    seconds: 2 + epoch,
  }));
  const f = learningCurves(history, { unit: "eV/atom" });
  const l = f.layout as Record<string, Record<string, unknown>>;
  assert.equal((l.yaxis2.title as { text: string }).text, "val error (eV/atom)");
  assert.equal(l.yaxis.type, "log");
  assert.ok((l.yaxis.ticktext as string[]).includes("0.5"));
  const time = f.data.find((d) => d.name === "time per epoch") as Trace;
  assert.deepEqual(time.y, [3, 4, 5]);
  assert.equal(time.yaxis, "y4");
  assert.equal((l.yaxis4.title as { text: string }).text, "time per epoch (s)");
  // The figure's height is what its box gets (renderHtml), so panels never overflow it.
  assert.equal(plotBoxStyle(f), `height:${f.layout.height}px`);
  // Panels do not overlap: domains are ordered top to bottom with gaps.
  const domains = ["yaxis", "yaxis2", "yaxis3", "yaxis4"].map((k) => l[k].domain as number[]);
  for (let i = 1; i < domains.length; i++) assert.ok(domains[i][1] < domains[i - 1][0]);
});

Deno.test("parityPlot: square, equal ranges, y = x, ids on hover", () => {
  const f = parityPlot([1, 2, 3], [1.5, 2, 2], {
    ids: ["mp-1", "mp-2", "mp-3"],
    quantity: "band gap",
    unit: "eV",
  });
  const pts = f.data[0] as Trace;
  assert.deepEqual(pts.text, ["mp-1", "mp-2", "mp-3"]);
  assert.match(String(pts.hovertemplate), /%\{text\}/);
  assert.equal(pts.type, "scatter");
  const l = f.layout as Record<string, Record<string, unknown>> & { width: number; height: number };
  assert.deepEqual(l.xaxis.range, l.yaxis.range);
  assert.equal(l.yaxis.scaleanchor, "x");
  const m = l.margin as unknown as { l: number; r: number; t: number; b: number };
  assert.equal(l.width - m.l - m.r, l.height - m.t - m.b, "square plotting area");
  assert.equal((l.xaxis.title as { text: string }).text, "true band gap (eV)");
  const line = f.data[1] as Trace;
  assert.deepEqual(line.x, line.y);
  assert.equal(plotBoxStyle(f), `height:${l.height}px;max-width:${l.width}px`);
  const many = Array.from({ length: WEBGL_POINTS + 1 }, (_, i) => i);
  assert.equal((parityPlot(many, many).data[0] as Trace).type, "scattergl");
});

Deno.test("errorHistogram: unit on the axis", () => {
  const f = errorHistogram([1, 2], [1, 3], { unit: "eV/atom" });
  const x = (f.layout as Record<string, { title: { text: string } }>).xaxis;
  assert.equal(x.title.text, "prediction − target (eV/atom)");
});

Deno.test("renderHtml: each box is as tall as its figure (no fixed 480 px box)", () => {
  const tall = { data: [], layout: { height: 900 } };
  const plain = { data: [], layout: {} };
  const html = renderHtml([{ title: "a", figure: tall }, { title: "b", figure: plain }], {
    title: "t",
  });
  assert.match(html, /id="plot-0" class="plot" style="height:900px"/);
  assert.match(html, /id="plot-1" class="plot" style="height:480px"/);
  assert.ok(!/\.plot \{[^}]*height/.test(html), "no fixed height in the stylesheet");
});

Deno.test("groupedBars: one panel per group, one colour per series, shared y axis", () => {
  const f = groupedBars([
    { group: "A", x: 100, series: "as is", mean: 1, error: 0.1 },
    { group: "A", x: 200, series: "as is", mean: 0.9, error: 0.1 },
    { group: "A", x: 100, series: "rotated", mean: 1.2, error: null },
    { group: "B", x: 100, series: "as is", mean: 0.8, error: NaN },
  ], { yTitle: "MAE", xTitle: "epochs" });
  const bars = f.data as Trace[];
  assert.equal(bars.length, 3);
  assert.deepEqual(bars.map((b) => [b.name, b.xaxis, b.showlegend]), [
    ["as is", "x", true],
    ["rotated", "x", true],
    ["as is", "x2", false],
  ]);
  const colors = bars.map((b) => (b.marker as { color: string }).color);
  assert.equal(colors[0], colors[2]);
  assert.notEqual(colors[0], colors[1]);
  assert.deepEqual((bars[0].error_y as { array: unknown[] }).array, [0.1, 0.1]);
  assert.deepEqual((bars[2].error_y as { array: unknown[] }).array, [null]);
  const l = f.layout as Record<string, Record<string, unknown>>;
  assert.equal(l.yaxis2.matches, "y");
  const [a, b] = [l.xaxis.domain as number[], l.xaxis2.domain as number[]];
  assert.ok(a[1] < b[0], "panels side by side, not overlapping");
});

Deno.test("experimentFigure: models as panels, rotation as colour, epochs on the axis, stderr bars", () => {
  const m = (mean: number, stderr: number) => ({ mean, stderr, n: 5 });
  const rows: ExperimentFigureRow[] = [];
  for (const model of ["CGCNN", "FACGCNN", "FACGCNN w/o FA"]) {
    for (const epochs of [100, 200]) {
      for (const rotated of [false, true]) {
        rows.push({
          label: `${model}${rotated ? " + random rotation" : ""} (${epochs} epochs)`,
          epochs,
          rotated,
          r2: m(0.9, 0.01),
          mae: m(epochs / 1000 + (rotated ? 1 : 0), 0.002),
          rmse: m(0.2, 0.003),
        });
      }
    }
  }
  rows.push({
    label: "CGCNN + origin shift (100 epochs)",
    epochs: 100,
    rotated: false,
    originShifted: true,
    r2: m(0.9, 0.01),
    mae: m(3, 0.1),
    rmse: m(0.2, 0.003),
  });
  const f = experimentFigure(rows, "mae", { unit: "eV/atom" });
  const bars = f.data as Trace[];
  assert.equal(bars.length, 7, "3 panels × 2 colours, and origin shift in the CGCNN panel");
  const shifted = bars.find((b) => b.name === "test cells' origin shifted")!;
  assert.deepEqual([shifted.xaxis, shifted.y], ["x", [3]]);
  assert.deepEqual(bars[0].x, ["100", "200"]);
  assert.deepEqual(bars[1].y, [1.1, 1.2]);
  assert.deepEqual((bars[1].error_y as { array: number[] }).array, [0.002, 0.002]);
  assert.equal(bars[1].name, "test set randomly rotated");
  const titles = (f.layout.annotations as { text: string }[]).map((a) => a.text);
  assert.deepEqual(titles, ["<b>CGCNN</b>", "<b>FACGCNN</b>", "<b>FACGCNN w/o FA</b>"]);
  const y = (f.layout as Record<string, { title: { text: string } }>).yaxis;
  assert.equal(y.title.text, "test MAE (eV/atom)");
  assert.match((f.layout.title as { text: string }).text, /standard error over 5 seeds/);
});

Deno.test("targetQuantity: eV/atom for energies, --unit wins, none for unknown columns", () => {
  assert.deepEqual(targetQuantity({ data: "synthetic:10" }), {
    name: "energy per atom",
    unit: "eV/atom",
  });
  assert.deepEqual(targetQuantity({ data: "a.h5", target: "energy_pa" }), {
    name: "energy_pa",
    unit: "eV/atom",
  });
  assert.deepEqual(targetQuantity({ data: "a.csv", target: "band_gap" }), { name: "band_gap" });
  assert.deepEqual(targetQuantity({ data: "a.csv", target: "band_gap", unit: "eV" }), {
    name: "band_gap",
    unit: "eV",
  });
});

Deno.test("wrapTitle: long titles break at spaces and slashes", () => {
  assert.equal(wrapTitle("short", 10), "short");
  const w = wrapTitle("/tmp/some/long/path/best.safetensors on synthetic:30", 20);
  for (const line of w.split("<br>")) assert.ok(line.length <= 24, line);
  const squash = (t: string) => t.replaceAll("<br>", "").replaceAll(" ", "");
  assert.equal(squash(w), squash("/tmp/some/long/path/best.safetensors on synthetic:30"));
});
