import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { randomlyTransformGraphs } from "../../lib/crystal/transform.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { loadTrainingData } from "../../lib/train/data.ts";
import { type ExperimentRow, runExperiment } from "../../lib/train/experiment.ts";
import { regressionMetrics } from "../../lib/train/metrics.ts";
import { train } from "../../lib/train/trainer.ts";
import {
  assertSameTensors,
  QUIET,
  readMetrics,
  tempDir,
  tensorsOf,
  tinyConfig,
} from "./_helpers.ts";

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

Deno.test("experiment: 3 variants × 2 seeds × budgets [1, 2] — rows, mean ± stderr, files, prefix runs", async () => {
  const [dir, cleanup] = await tempDir("experiment");
  try {
    const out = `${dir}/exp`;
    const base = tinyConfig(out, { data: "synthetic:40", batchSize: 8, model: undefined });
    const result = await runExperiment({
      ...base,
      seeds: 2,
      epochsList: [2, 1],
      variants: ["cgcnn", "facgcnn", "facgcnn-nofa"],
    }, QUIET);

    // Every variant × budget × evaluation setting, each with both seeds.
    const expectedLabels: string[] = [];
    for (const v of ["CGCNN", "FACGCNN", "FACGCNN w/o FA"]) {
      for (const e of [1, 2]) {
        const suffixes = v === "FACGCNN"
          ? [
            "",
            " + random rotation",
            " + origin shift",
            ", 8-frame eval",
            ", 8-frame eval + random rotation",
          ]
          : ["", " + random rotation", " + origin shift"];
        for (const s of suffixes) expectedLabels.push(`${v}${s} (${e} epochs)`);
      }
    }
    const json = JSON.parse(await Deno.readTextFile(`${out}/results.json`));
    const rows: ExperimentRow[] = json.rows;
    assert.deepEqual(rows.map((r) => r.label).sort(), [...expectedLabels].sort());
    assert.deepEqual(result.rows.map((r) => r.label), rows.map((r) => r.label));

    // CGCNN sees only the periodic graph: an origin shift with wrapping changes nothing.
    for (const e of [1, 2]) {
      const plain = rows.find((r) => r.label === `CGCNN (${e} epochs)`)!;
      const shifted = rows.find((r) => r.label === `CGCNN + origin shift (${e} epochs)`)!;
      assert.deepEqual(shifted.perSeed, plain.perSeed);
    }

    // mean ± standard error recomputed from the per-seed values.
    for (const row of rows) {
      assert.deepEqual(row.perSeed.map((s) => s.seed), [0, 1], row.label);
      for (const k of ["r2", "mae", "rmse"] as const) {
        const v = row.perSeed.map((s) => s[k]);
        assert.ok(v.every(Number.isFinite), `${row.label} ${k}`);
        const mean = (v[0] + v[1]) / 2;
        const sd = Math.sqrt(((v[0] - mean) ** 2 + (v[1] - mean) ** 2) / (2 - 1));
        close(row[k].mean, mean, `${row.label} ${k} mean`);
        close(row[k].stderr, sd / Math.sqrt(2), `${row.label} ${k} stderr`);
        assert.equal(row[k].n, 2);
      }
    }

    // results.md: one table row per result row, with the formatted MAE.
    const md = await Deno.readTextFile(`${out}/results.md`);
    const tableRows = md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Model"));
    assert.equal(tableRows.length, rows.length);
    rows.forEach((row, i) => {
      const cells = tableRows[i].split("|").map((c) => c.trim());
      assert.equal(cells[1], row.label.replace(/ \(\d+ epochs\)$/, ""));
      assert.equal(Number(cells[2]), row.epochs);
      assert.equal(cells[3], row.rotated ? "rotated" : row.originShifted ? "origin shift" : "no");
      assert.equal(cells[6], `${row.mae.mean.toFixed(3)} ± ${row.mae.stderr.toFixed(3)}`);
    });
    const html = await Deno.readTextFile(`${out}/results.html`);
    assert.ok(html.includes("plotly.js v"), "chart page with the bundle");

    // Budget checkpoints: best_e1 is epoch 1; best_e2 is the argmin of val MAE over epochs 1-2.
    for (
      const run of ["cgcnn", "facgcnn", "facgcnn-nofa"].flatMap((v) =>
        [0, 1].map((s) => `${v}-seed${s}`)
      )
    ) {
      const runDir = `${out}/runs/${run}`;
      const e1 = await readSafetensors(`${runDir}/best_e1.safetensors`);
      const e2 = await readSafetensors(`${runDir}/best_e2.safetensors`);
      assert.equal(Number(e1.metadata.epoch), 1, run);
      const maes = (await readMetrics(runDir)).rows.map((r) => Number(r[2]));
      assert.equal(Number(e2.metadata.epoch), maes[1] < maes[0] ? 2 : 1, run);
    }

    // The split is the same for every seed (only the initialisation and frames change).
    const ids = async (run: string) =>
      (await Deno.readTextFile(`${out}/runs/${run}/test_results.csv`)).trim().split("\n")
        .map((l) => l.split(",")[0]);
    assert.deepEqual(await ids("facgcnn-seed1"), await ids("facgcnn-seed0"));
    assert.deepEqual(await ids("cgcnn-seed1"), await ids("cgcnn-seed0"));

    // One per-seed value recomputed from the saved budget checkpoint.
    const data = await loadTrainingData({ ...base, seed: 1, splitSeed: 0 });
    const { model } = await loadCheckpoint(`${out}/runs/facgcnn-seed1/best_e2.safetensors`, {
      backend: cpuBackend(),
    });
    try {
      const all = regressionMetrics(
        data.test.targets,
        model.predictGraphs(data.test, { frames: "all" }),
      );
      const row = rows.find((r) => r.label === "FACGCNN, 8-frame eval (2 epochs)")!;
      close(row.perSeed[1].mae, all.mae, "8-frame MAE of seed 1");
      close(row.perSeed[1].rmse, all.rmse, "8-frame RMSE of seed 1");
      const rotated = randomlyTransformGraphs(data.test, 1000 + 1);
      const rot = regressionMetrics(
        rotated.targets,
        model.predictGraphs(rotated, { frames: "all" }),
      );
      const rrow = rows.find((r) =>
        r.label === "FACGCNN, 8-frame eval + random rotation (2 epochs)"
      )!;
      close(rrow.perSeed[1].mae, rot.mae, "rotated 8-frame MAE of seed 1");
    } finally {
      model.dispose();
    }

    // The prefix claim: budget 1 of the 2-epoch run is a separate 1-epoch run's best model.
    const single = `${dir}/single`;
    const r1 = await train({
      ...base,
      model: "facgcnn",
      frames: "stochastic",
      seed: 1,
      splitSeed: 0,
      epochs: 1,
      out: single,
    }, QUIET);
    r1.model.dispose();
    assertSameTensors(
      await tensorsOf(`${single}/best.safetensors`),
      await tensorsOf(`${out}/runs/facgcnn-seed1/best_e1.safetensors`),
      "1-epoch run vs best_e1",
    );
  } finally {
    await cleanup();
  }
});
