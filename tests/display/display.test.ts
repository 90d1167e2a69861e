import assert from "node:assert/strict";
import { parseCif as parseCifPlain } from "../../lib/crystal/cif.ts";
import { syntheticCrystals as syntheticCrystalsPlain } from "../../lib/data/synthetic.ts";
import { loadDataset as loadDatasetPlain } from "../../lib/data/dataset.ts";
import { transformStructure } from "../../lib/crystal/transform.ts";
import type { Structure } from "../../lib/crystal/types.ts";
import {
  attachDisplay,
  display,
  experimentBundle,
  JUPYTER_DISPLAY,
  type MimeBundle,
  plotlyLibrary,
  showExperiment,
  showFigure,
  showPredictions,
  showStructure,
  showTraining,
  standaloneFigureBundle,
  structureFigure,
  withDisplay,
  withExperimentDisplay,
} from "../../lib/display/mod.ts";
// The decorated entry points of mod.ts (importing it also installs the tensor display).
import { loadDataset, parseCif, syntheticCrystals, Tensor, train } from "../../mod.ts";
import { PLOTLY_MIME, type PlotlyFigure } from "../../lib/plot/plotly.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { tensor } from "../../lib/tensor/ops.ts";
import type { ExperimentResult } from "../../lib/train/experiment.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";

const NACL: Structure = {
  id: "nacl",
  lattice: new Float64Array([5.64, 0, 0, 0, 5.64, 0, 0, 0, 5.64]),
  frac: new Float64Array([0, 0, 0, 0.5, 0.5, 0.5]),
  numbers: new Int32Array([11, 17]),
};

async function bundleOf(value: unknown): Promise<MimeBundle> {
  const fn = (value as Record<symbol, unknown>)[Symbol.for("Jupyter.display")];
  assert.equal(typeof fn, "function", "has a Jupyter display method");
  return await (fn as () => MimeBundle | Promise<MimeBundle>).call(value);
}

function plotlyOf(bundle: MimeBundle): PlotlyFigure {
  assert.ok(PLOTLY_MIME in bundle, "Plotly MIME entry");
  const html = bundle["text/html"] as string;
  assert.ok(html.includes("Plotly.newPlot"));
  assert.ok(html.length < 100_000, "small output: the bundle comes from plotlyLibrary()");
  // The Plotly entry is JSON-safe (what the kernel sends).
  return JSON.parse(JSON.stringify(bundle[PLOTLY_MIME]));
}

Deno.test("JUPYTER_DISPLAY is the kernel's well-known symbol", () => {
  assert.equal(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
});

Deno.test("structure: scatter3d per element + unit cell, formula line", async () => {
  const b = await bundleOf(showStructure(NACL));
  const fig = plotlyOf(b);
  const atoms = fig.data.filter((t) => t.mode === "markers");
  assert.deepEqual(atoms.map((t) => t.name), ["Na", "Cl"]);
  assert.ok(atoms.every((t) => t.type === "scatter3d"));
  assert.deepEqual(atoms[1].x, [2.82]);
  const cell = fig.data.find((t) => t.name === "unit cell")!;
  assert.equal((cell.x as unknown[]).length, 12 * 3, "12 edges, null-separated");
  assert.equal((fig.layout.scene as Record<string, unknown>).aspectmode, "data");
  assert.match(b["text/plain"] as string, /^nacl: NaCl, 2 atoms, a=5\.640/);
  assert.match(b["text/html"] as string, /<p><code>nacl: NaCl/);
  assert.equal(String(showStructure(NACL)), b["text/plain"]);
  assert.equal(display.structure(NACL).formula, "NaCl");
  assert.equal(structureFigure(NACL, { cell: false }).data.length, 2);
});

Deno.test("withDisplay: non-enumerable, invisible to JSON, keys, equality and clones", async () => {
  const plain = { ...NACL };
  const shown = withDisplay({ ...NACL });
  assert.deepStrictEqual(shown, plain);
  assert.deepEqual(Object.keys(shown), Object.keys(plain));
  assert.equal(JSON.stringify(shown), JSON.stringify(plain));
  assert.equal(Object.getOwnPropertySymbols(structuredClone(shown)).length, 0);
  assert.ok(PLOTLY_MIME in await bundleOf(shown));
  // Frozen objects are returned untouched.
  const frozen = Object.freeze({ ...NACL });
  assert.equal(withDisplay(frozen), frozen);
  assert.equal(Object.getOwnPropertySymbols(frozen).length, 0);
  assert.equal(attachDisplay(shown, () => ({})), shown, "an existing method is kept");
});

const CSCL_CIF = `data_x
_cell_length_a 4
_cell_length_b 4
_cell_length_c 4
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Cs 0 0 0
Cl 0.5 0.5 0.5
`;

Deno.test("synthetic and CIF structures from mod.ts display themselves", async () => {
  const s = syntheticCrystals({ count: 3, seed: 1 }).get(2).structure;
  const fig = plotlyOf(await bundleOf(s));
  assert.ok(fig.data.some((t) => t.name === "unit cell"));
  const cif = parseCif(CSCL_CIF);
  const b = await bundleOf(cif);
  assert.match(b["text/plain"] as string, /CsCl/);
  // Derived structures are plain objects again (display via showStructure).
  const moved = transformStructure(cif, new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), [0, 0, 0]);
  assert.equal(Object.getOwnPropertySymbols(moved).length, 0);
});

Deno.test("the layers below display are plain: no display on lib/ structures", () => {
  const plain = [
    parseCifPlain(CSCL_CIF),
    syntheticCrystalsPlain({ count: 2, seed: 1 }).get(1).structure,
  ];
  for (const s of plain) assert.equal(Object.getOwnPropertySymbols(s).length, 0);
  // The decorated versions return the same data.
  assert.deepStrictEqual(parseCif(CSCL_CIF), plain[0]);
  assert.deepStrictEqual(syntheticCrystals({ count: 2, seed: 1 }).get(1), {
    id: "synthetic-1-1",
    structure: plain[1],
    target: syntheticCrystalsPlain({ count: 2, seed: 1 }).get(1).target,
  });
});

Deno.test("loadDataset from mod.ts: structures display, the data set keeps its fields", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/id_prop.csv`, "cscl,1.5\n");
    await Deno.writeTextFile(`${dir}/cscl.cif`, CSCL_CIF);
    const folder = await loadDataset(dir, { quiet: true });
    const plainFolder = await loadDatasetPlain(dir, { quiet: true });
    assert.equal(folder.length, 1);
    assert.equal(folder.constructor, plainFolder.constructor, "same class");
    assert.deepEqual(Object.keys(folder), Object.keys(plainFolder));
    assert.match((await bundleOf(folder.get(0).structure))["text/plain"] as string, /CsCl/);
    assert.equal(Object.getOwnPropertySymbols(plainFolder.get(0).structure).length, 0);
    const synthetic = await loadDataset("synthetic:5:3", { quiet: true });
    assert.equal(synthetic.source, "synthetic:5:3");
    assert.equal(synthetic.get(4), synthetic.get(4), "cached entries stay cached");
    assert.ok(PLOTLY_MIME in await bundleOf(synthetic.get(4).structure));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train from mod.ts: the result shows its learning curves", async () => {
  const out = await Deno.makeTempDir();
  try {
    const run = await train({
      data: "synthetic:40",
      epochs: 2,
      atomFeaLen: 8,
      hFeaLen: 8,
      batchSize: 16,
      device: "cpu",
      out,
      cacheDir: null,
      quiet: true,
    }, { log: () => {} });
    run.model.dispose();
    assert.equal(Object.getOwnPropertyDescriptor(run, JUPYTER_DISPLAY)?.enumerable, false);
    const b = await bundleOf(run);
    assert.ok(plotlyOf(b).data.some((t) => t.name === "train loss"));
    assert.match(b["text/plain"] as string, /2 epochs/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const HISTORY: EpochRecord[] = [1, 2, 3].map((epoch) => ({
  epoch,
  trainLoss: 1 / epoch,
  valMae: [0.5, 0.3, 0.4][epoch - 1],
  valRmse: 0.6,
  valR2: 0.5,
  lr: 1e-3,
  seconds: 1,
}));

Deno.test("training history: learning curves with the best epoch marked", async () => {
  const b = await bundleOf(showTraining(HISTORY));
  const fig = plotlyOf(b);
  const names = fig.data.map((t) => t.name);
  assert.ok(names.includes("train loss") && names.includes("val MAE"));
  assert.ok(names.includes("best (epoch 2)"));
  assert.match(b["text/plain"] as string, /3 epochs.*best val MAE 0\.3000 at epoch 2/);
});

Deno.test("predictions: parity plot, metrics, CSV", async () => {
  const p = showPredictions([1, 2, 3], [1, 2.5, 3], { ids: ["a", "b,c", "d"] });
  assert.equal(p.metrics.n, 3);
  assert.ok(Math.abs(p.metrics.mae - 0.5 / 3) < 1e-12);
  const fig = plotlyOf(await bundleOf(p));
  assert.equal(fig.data[0].type, "scatter"); // SVG below WEBGL_POINTS points
  assert.deepEqual(fig.data[0].x, [1, 2, 3]);
  assert.deepEqual(fig.data[0].y, [1, 2.5, 3]);
  assert.equal(fig.data[1].name, "y = x");
  assert.equal(p.toCsv(), 'id,target,prediction\na,1,1\n"b,c",2,2.5\nd,3,3\n');
  assert.throws(() => showPredictions([1, 2], [1, 2], { ids: ["x"] }), RangeError);
});

Deno.test("experiment: HTML table with one row per result row, Markdown", async () => {
  const ms = (mean: number) => ({ mean, stderr: 0.01, n: 2 });
  const result: ExperimentResult = {
    out: "runs/x",
    rows: [
      {
        label: "CGCNN (10 epochs)",
        variant: "cgcnn",
        epochs: 10,
        rotated: false,
        evalFrames: "none",
        perSeed: [],
        r2: ms(0.9),
        mae: ms(0.1),
        rmse: ms(0.2),
      },
      {
        label: "FACGCNN, 8-frame eval + random rotation (10 epochs)",
        variant: "facgcnn",
        epochs: 10,
        rotated: true,
        evalFrames: "all",
        perSeed: [],
        r2: ms(0.95),
        mae: { mean: 0.05, stderr: NaN, n: 1 },
        rmse: ms(0.1),
      },
    ],
  };
  const b = await bundleOf(showExperiment(result));
  const html = b["text/html"] as string;
  assert.equal(html.match(/<tr>/g)!.length, 3, "header + 2 rows");
  assert.ok(html.includes("<td>FACGCNN, 8-frame eval + random rotation</td>"));
  assert.ok(html.includes("<td>0.950 ± 0.010</td>"));
  assert.ok(html.includes("<td>0.050</td>"), "one seed: mean alone");
  const md = b["text/markdown"] as string;
  assert.equal(md.trim().split("\n").length, 4);
  assert.match(md, /\| CGCNN \| 10 \| no \| – \| 0\.900 ± 0\.010 \|/);
  assert.deepEqual(experimentBundle(result), b);
  assert.deepEqual(await bundleOf(withExperimentDisplay({ ...result })), b);
});

Deno.test("figure: any Plotly figure", async () => {
  const fig: PlotlyFigure = { data: [{ type: "bar", x: ["a"], y: [1] }], layout: {} };
  const b = await bundleOf(showFigure(fig, "bars"));
  assert.deepEqual(plotlyOf(b), fig);
  assert.equal(b["text/plain"], "bars");
});

Deno.test("tensor: display is a non-enumerable prototype method, installed by mod.ts", () => {
  const d = Object.getOwnPropertyDescriptor(Tensor.prototype, JUPYTER_DISPLAY);
  assert.equal(typeof d?.value, "function");
  assert.equal(d?.enumerable, false);
});

Deno.test("tensor: shape, dtype, device, first values; disposed tensors too", async () => {
  const backend = createCpuBackend();
  const t = tensor(backend, new Float32Array(40).map((_, i) => i / 4), [10, 4]);
  const b = await bundleOf(t);
  const text = b["text/plain"] as string;
  assert.ok(text.startsWith("Tensor[10, 4] float32 cpu\n"));
  assert.ok(text.includes("0.25000"));
  assert.equal(text.trim().split("\n").length, 1 + 4 + 1, "4 rows and an ellipsis");
  assert.ok((b["text/html"] as string).includes("<table>"));
  const ints = tensor(backend, new Int32Array([1, 2, 3]));
  assert.equal((await bundleOf(ints))["text/plain"], "Tensor[3] int32 cpu\n  1  2  3");
  t.dispose();
  ints.dispose();
  assert.equal((await bundleOf(t))["text/plain"], "Tensor[10, 4] float32 cpu (disposed)");
});

Deno.test("displays never touch Deno.jupyter (harmless outside the kernel)", async () => {
  // Deno.jupyter throws outside the kernel and cannot be stubbed (non-configurable): this
  // process is not a kernel, so every display above ran outside one; also no code line in
  // lib/display (comments aside) names it.
  for await (const e of Deno.readDir(new URL("../../lib/display/", import.meta.url))) {
    const text = await Deno.readTextFile(new URL(`../../lib/display/${e.name}`, import.meta.url));
    const code = text.split("\n").filter((l) => !/^\s*(\*|\/\/|\/\*\*)/.test(l));
    assert.ok(!code.some((l) => l.includes("Deno.jupyter")), `${e.name} uses Deno.jupyter`);
  }
  assert.ok(PLOTLY_MIME in await bundleOf(withDisplay({ ...NACL })));
});

Deno.test("plotlyLibrary embeds the bundle once; standalone bundles embed it too", async () => {
  const lib = await bundleOf(plotlyLibrary());
  assert.ok((lib["text/html"] as string).includes("plotly.js v4"));
  assert.ok((lib["text/html"] as string).length > 1_000_000);
  assert.match(lib["text/plain"] as string, /^Plotly\.js \d+\.\d+\.\d+ \(embedded, offline\)$/);
  const fig: PlotlyFigure = { data: [{ type: "bar", x: ["a"], y: [1] }], layout: {} };
  const b = standaloneFigureBundle(fig, "t");
  assert.ok((b["text/html"] as string).includes("plotly.js v4"));
  assert.deepEqual(b[PLOTLY_MIME], fig);
});
