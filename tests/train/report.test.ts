import assert from "node:assert/strict";
import {
  errorHistogram,
  experimentChart,
  learningCurves,
  parityPlot,
  writeReport,
} from "../../lib/train/report.ts";
import { PLOTLY_BUNDLE, PLOTLY_VERSION } from "../../lib/plot/bundle.ts";
import { PLOTLY_MIME, plotlyMimeBundle, plotlyScript, renderHtml } from "../../lib/plot/plotly.ts";

const T = [1, 2, 3, 4];
const P = [1.5, 2, 2, 5];

/** The figure JSON blocks of a rendered page, parsed. */
function figuresIn(html: string): unknown[] {
  const re = /<script type="application\/json" id="figure-(\d+)">([\s\S]*?)<\/script>/g;
  return [...html.matchAll(re)].map((m) => JSON.parse(m[2]));
}

Deno.test("the Plotly bundle is the pinned package", () => {
  assert.equal(PLOTLY_VERSION, "4.1.2");
  assert.ok(PLOTLY_BUNDLE.length > 1_000_000);
  assert.ok(PLOTLY_BUNDLE.includes("window.Plotly = Plotly"));
});

Deno.test("renderHtml: one offline page with the bundle and every figure's JSON", () => {
  const figs = [
    { title: "Parity <1>", figure: parityPlot(T, P, { title: "p" }) },
    { title: "Errors", figure: errorHistogram(T, P) },
  ];
  // A hostile string must not end the script element early.
  figs[1].figure.layout.note = "</script><script>alert(1)</script>";
  const html = renderHtml(figs, { title: "Run & report" });
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(html.includes("<title>Run &amp; report</title>"));
  assert.ok(html.includes("<h2>Parity &lt;1&gt;</h2>"));
  assert.ok(html.includes("plotly.js v4.1.2"), "bundle embedded");
  assert.ok(html.length > PLOTLY_BUNDLE.length);
  assert.ok(!/src=["']https?:/.test(html), "no network script");
  assert.equal(html.split("alert(1)").length, 2, "appears once, escaped inside JSON");
  assert.ok(!html.includes("<script>alert(1)"));
  const parsed = figuresIn(html);
  assert.equal(parsed.length, 2);
  assert.deepEqual(parsed, JSON.parse(JSON.stringify(figs.map((f) => f.figure))));
});

Deno.test("the wrapped bundle still compiles as JavaScript", () => {
  const script = plotlyScript();
  const body = script.slice("<script>".length, -"</script>".length);
  assert.ok(!/<\/script/i.test(body));
  // Compiles only (no DOM here to run it).
  assert.doesNotThrow(() => new Function(body));
});

Deno.test("parityPlot: all points, y = x line over the data range, metrics annotation", () => {
  const f = parityPlot(new Float32Array(T), new Float64Array(P), { quantity: "E (eV/atom)" });
  const pts = f.data[0] as { x: number[]; y: number[] };
  assert.equal(pts.x.length, 4);
  assert.ok(Array.isArray(pts.x), "plain arrays, not typed arrays");
  assert.deepEqual(pts.y, P);
  const line = f.data[1] as { x: number[]; y: number[] };
  assert.deepEqual(line.x, line.y);
  assert.ok(line.x[0] < 1 && line.x[1] > 5);
  const text = (f.layout.annotations as { text: string }[])[0].text;
  // Hand-computed: R² 0.55, MAE 0.625, RMSE 0.75.
  assert.match(text, /R² = 0\.550/);
  assert.match(text, /MAE = 0\.625/);
  assert.match(text, /RMSE = 0\.750/);
  assert.match(text, /n = 4/);
  assert.deepEqual(JSON.parse(JSON.stringify(f)), f);
});

Deno.test("errorHistogram: prediction − target", () => {
  const f = errorHistogram(T, P, { bins: 10 });
  assert.deepEqual((f.data[0] as { x: number[] }).x, [0.5, 0, -1, 1]);
  assert.equal((f.data[0] as { nbinsx: number }).nbinsx, 10);
  assert.match((f.layout.title as { text: string }).text, /mean 0\.125/);
});

Deno.test("learningCurves: traces per metric and the best epoch marked", () => {
  const history = [
    { epoch: 1, trainLoss: 1.0, valMae: 0.30, valRmse: 0.4, valR2: 0.5 },
    { epoch: 2, trainLoss: 0.5, valMae: 0.10, valRmse: 0.2, valR2: 0.8 },
    { epoch: 3, trainLoss: 0.2, valMae: 0.15, valRmse: 0.25, valR2: 0.7 },
  ];
  const f = learningCurves(history);
  const names = f.data.map((d) => d.name);
  assert.deepEqual(names, ["train loss", "val MAE", "val RMSE", "val R²", "best (epoch 2)"]);
  assert.deepEqual(f.data.at(-1)!.y, [0.1]);
  assert.ok(f.layout.yaxis3 !== undefined);
  const short = learningCurves(history.map(({ epoch, trainLoss, valMae }) => ({
    epoch,
    trainLoss,
    valMae,
  })));
  assert.equal(short.data.length, 3);
  assert.equal(short.layout.yaxis3, undefined);
  // NaN values (a diverged epoch) serialise as null, not as invalid JSON.
  const nan = learningCurves([{ epoch: 1, trainLoss: NaN, valMae: NaN }]);
  assert.deepEqual(nan.data[0].y, [null]);
});

Deno.test("experimentChart: bars with standard-error bars", () => {
  const f = experimentChart([
    { label: "CGCNN", mean: 0.086, stderr: 0.002 },
    { label: "FACGCNN", mean: 0.085, stderr: NaN },
  ], { metric: "test MAE" });
  const bar = f.data[0] as { x: string[]; y: number[]; error_y: { array: unknown[] } };
  assert.deepEqual(bar.x, ["CGCNN", "FACGCNN"]);
  assert.deepEqual(bar.y, [0.086, 0.085]);
  assert.deepEqual(bar.error_y.array, [0.002, null]);
});

Deno.test("plotlyMimeBundle: Plotly JSON plus self-contained HTML", () => {
  const fig = experimentChart([{ label: "a", mean: 1, stderr: 0.1 }]);
  const b = plotlyMimeBundle(fig);
  assert.equal(b[PLOTLY_MIME], fig);
  assert.ok(b["text/html"].includes("plotly.js v4.1.2"));
  assert.ok(b["text/html"].includes(JSON.stringify(fig.data[0].x)));
});

Deno.test("writeReport writes one HTML file atomically", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    await writeReport(`${dir}/report.html`, [{ title: "x", figure: parityPlot(T, P) }], {
      title: "t",
    });
    const html = Deno.readTextFileSync(`${dir}/report.html`);
    assert.equal(figuresIn(html).length, 1);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["report.html"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
