/**
 * `deno task predict` on plain inputs a new user has: a folder of .cif files with no
 * id_prop.csv, one .cif, a CSV without a target column, an HDF5 file without energies. Each
 * writes `id,prediction` with one row per structure, matching the model's own predictions;
 * inputs with targets write `id,target,prediction`; nothing to predict is an error (exit 1).
 */

import assert from "node:assert/strict";
import { structureToCif } from "../../lib/crystal/cif_write.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import { writeHdf5 } from "../../lib/data/readers/hdf5.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { train } from "../../lib/train/trainer.ts";
import { predictionCsv } from "../../cli/predict.ts";

const PREDICT = new URL("../../cli/predict.ts", import.meta.url).pathname;

async function predict(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PREDICT, ...args, "--device", "cpu"],
    env: { FACGCNN_QUIET: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

function parse(csv: string): { header: string; rows: string[][] } {
  const lines = csv.trim().split("\n");
  return { header: lines[0], rows: lines.slice(1).map((l) => l.split(",")) };
}

Deno.test("predict: plain CIF folder, one CIF, CSV without target, HDF5 without energies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-predict-plain-" });
  try {
    const run = await train({
      data: "synthetic:48:3",
      epochs: 1,
      atomFeaLen: 8,
      hFeaLen: 8,
      nConv: 1,
      batchSize: 16,
      device: "cpu",
      out: `${dir}/run`,
      cacheDir: null,
      quiet: true,
    }, { log: () => {} });
    run.model.dispose();
    const ckpt = `${dir}/run/best.safetensors`;

    // Reference predictions, in-process, for 6 structures.
    const crystals = syntheticCrystals({ count: 6, seed: 11 });
    const structures = Array.from({ length: 6 }, (_, i) => crystals.get(i).structure);
    const { model } = await loadCheckpoint(ckpt, { device: "cpu" });
    const expected = await model.predict(structures, { frames: "all" });
    model.dispose();

    await Deno.mkdir(`${dir}/cifs`);
    const names = structures.map((_, i) => `crystal-${i + 1}`);
    for (let i = 0; i < 6; i++) {
      await Deno.writeTextFile(`${dir}/cifs/${names[i]}.cif`, structureToCif(structures[i]));
    }
    await Deno.writeTextFile(`${dir}/cifs/notes.txt`, "not a CIF: ignored\n");

    const check = (csv: string, ids: string[], values: ArrayLike<number>) => {
      const { header, rows } = parse(csv);
      assert.equal(header, "id,prediction");
      assert.deepEqual(rows.map((r) => r[0]), ids);
      rows.forEach((r, i) => assert.ok(Math.abs(Number(r[1]) - values[i]) < 1e-4, `${r}`));
    };

    const folder = await predict([
      "--checkpoint",
      ckpt,
      "--data",
      `${dir}/cifs`,
      "--frames",
      "all",
    ]);
    assert.equal(folder.code, 0, folder.stderr);
    check(folder.stdout, names, expected);

    const one = await predict([
      "--checkpoint",
      ckpt,
      "--data",
      `${dir}/cifs/crystal-3.cif`,
      "--frames",
      "all",
      "--out",
      `${dir}/one.csv`,
    ]);
    assert.equal(one.code, 0, one.stderr);
    check(await Deno.readTextFile(`${dir}/one.csv`), ["crystal-3"], [expected[2]]);

    const csvRows = [
      "material_id,cif",
      ...structures.map((s, i) => `${names[i]},"${structureToCif(s).replaceAll('"', '""')}"`),
    ];
    await Deno.writeTextFile(`${dir}/no_target.csv`, csvRows.join("\n") + "\n");
    const csv = await predict([
      "--checkpoint",
      ckpt,
      "--data",
      `${dir}/no_target.csv`,
      "--frames",
      "all",
    ]);
    assert.equal(csv.code, 0, csv.stderr);
    check(csv.stdout, names, expected);

    await writeHdf5(
      `${dir}/no_energy.h5`,
      structures.map((structure) => ({ structure, target: 0 })),
      { target: "band_gap" }, // no energy_pa dataset
    );
    const h5 = await predict([
      "--checkpoint",
      ckpt,
      "--data",
      `${dir}/no_energy.h5`,
      "--positions",
      "cartesian",
      "--frames",
      "all",
    ]);
    assert.equal(h5.code, 0, h5.stderr);
    // HDF5 ids are row numbers; float32 storage moves predictions a little.
    const { header, rows } = parse(h5.stdout);
    assert.equal(header, "id,prediction");
    assert.equal(rows.length, 6);
    rows.forEach((r, i) => assert.ok(Math.abs(Number(r[1]) - expected[i]) < 1e-3));

    // With targets the header has them (the run's test set as CGCNN's folder layout).
    const withTargets = await predict([
      "--checkpoint",
      ckpt,
      "--data",
      "../shared/reference/cgcnn-sample",
    ]);
    if (withTargets.code === 0) {
      const t = parse(withTargets.stdout);
      assert.equal(t.header, "id,target,prediction");
      assert.equal(t.rows.length, 10);
    } else assert.match(withTargets.stderr, /not found/); // the sample folder is not shared here

    // Nothing usable to predict: an error, not an empty file and exit 0.
    await Deno.mkdir(`${dir}/broken`);
    await Deno.writeTextFile(`${dir}/broken/bad.cif`, "this is not a CIF\n");
    const empty = await predict(["--checkpoint", ckpt, "--data", `${dir}/broken`]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no structures to predict .*bad\.cif/);
    assert.equal(empty.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plain CIFs are no training data: a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-cif-train-" });
  try {
    const s = syntheticCrystals({ count: 1, seed: 1 }).get(0).structure;
    await Deno.writeTextFile(`${dir}/a.cif`, structureToCif(s));
    await assert.rejects(() => loadDataset(dir, { quiet: true }), /id_prop\.csv not found/);
    await assert.rejects(() => loadDataset(`${dir}/a.cif`, { quiet: true }), /carry no targets/);
    const ds = await loadDataset(`${dir}/a.cif`, { quiet: true, targets: "optional" });
    assert.equal(ds.length, 1);
    assert.equal(ds.get(0).id, "a");
    assert.ok(Number.isNaN(ds.get(0).target));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predictionCsv: header conventions, quoting, empty target cells", () => {
  assert.equal(predictionCsv(["a", "b,c"], null, [1, 2]), 'id,prediction\na,1\n"b,c",2\n');
  assert.equal(
    predictionCsv(["a", "b"], [0.5, NaN], [1, 2]),
    "id,target,prediction\na,0.5,1\nb,,2\n",
  );
});
