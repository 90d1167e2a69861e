/**
 * What the commands say when structures are dropped or a file cannot be written: train and
 * predict report the skipped structures per stage alike (first few on stderr, all in a CSV),
 * and errors keep their reason (--device cuda, --out into /proc or a missing folder).
 */
import assert from "node:assert/strict";
import { structureToCif } from "../../lib/crystal/cif_write.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { runCli } from "../train/_helpers.ts";

const TINY = [
  "--atom-fea-len",
  "8",
  "--h-fea-len",
  "16",
  "--n-conv",
  "1",
  "--batch-size",
  "8",
  "--epochs",
  "1",
  "--device",
  "cpu",
  "--no-cache",
];

Deno.test("train and predict report skipped structures per stage and list them all", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-skipped-" });
  try {
    const data = `${dir}/data`;
    await Deno.mkdir(data);
    const ds = syntheticCrystals({ count: 20, seed: 4 });
    const rows: string[] = [];
    for (let i = 0; i < ds.length; i++) {
      const e = ds.get(i);
      await Deno.writeTextFile(
        `${data}/s${i}.cif`,
        structureToCif({ ...e.structure, id: `s${i}` }),
      );
      rows.push(`s${i},${e.target}`);
    }
    // Read fine, but no neighbour within 8 Å: dropped while featurizing.
    await Deno.writeTextFile(
      `${data}/lone.cif`,
      "data_lone\n_cell_length_a 20\n_cell_length_b 20\n_cell_length_c 20\n" +
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n" +
        "_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n" +
        "Fe 0 0 0\n",
    );
    rows.push("lone,1.0");
    rows.push("missing,2.0"); // no CIF: dropped while reading
    await Deno.writeTextFile(`${data}/id_prop.csv`, rows.join("\n") + "\n");

    const out = `${dir}/run`;
    const t = await runCli("cli/train.ts", ["--data", data, "--out", out, ...TINY]);
    assert.equal(t.code, 0, t.stderr);
    const head =
      "skipped 2 of 22 structures: 1 while reading, 1 while featurizing (no graph); all listed in ";
    assert.ok(t.stderr.includes(head + `${out}/skipped.csv`), t.stderr);
    assert.match(t.stderr, /- missing: .*missing\.cif not found/);
    assert.match(t.stderr, /- lone: .*no graph/);
    const csv = (await Deno.readTextFile(`${out}/skipped.csv`)).trim().split("\n");
    assert.equal(csv[0], "id,stage,reason");
    assert.deepEqual(csv.slice(1).map((l) => l.split(",").slice(0, 2).join(",")).sort(), [
      "lone,featurize",
      "missing,load",
    ]);

    const preds = `${dir}/preds.csv`;
    const p = await runCli("cli/predict.ts", [
      "--checkpoint",
      `${out}/best.safetensors`,
      "--data",
      data,
      "--out",
      preds,
      "--device",
      "cpu",
    ]);
    assert.equal(p.code, 0, p.stderr);
    assert.ok(p.stderr.includes(head + `${dir}/preds.skipped.csv`), p.stderr);
    assert.deepEqual(
      (await Deno.readTextFile(`${dir}/preds.skipped.csv`)).split("\n").slice(1, 3).map((l) =>
        l.split(",")[0]
      ).sort(),
      ["lone", "missing"],
    );
    assert.equal((await Deno.readTextFile(preds)).trim().split("\n").length, 21, "20 rows");

    // predict --out into a missing folder names the path given, before any work.
    const bad = await runCli("cli/predict.ts", [
      "--checkpoint",
      `${out}/best.safetensors`,
      "--data",
      data,
      "--out",
      `${dir}/nope/p.csv`,
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.equal(
      bad.stderr.trim(),
      `error: --out ${dir}/nope/p.csv: cannot use the folder ${dir}/nope: no such file or ` +
        `folder (does the folder exist?)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors keep their reason: --out /proc/x, --device cuda", async () => {
  const proc = await runCli("cli/train.ts", [
    "--data",
    "synthetic:20",
    "--out",
    "/proc/x",
    ...TINY,
  ]);
  assert.equal(proc.code, 1);
  const lines = proc.stderr.trim().split("\n");
  assert.match(lines.at(-1)!, /^error: cannot create the run folder \/proc\/x: /);
  assert.doesNotMatch(proc.stderr, /--allow-all|run again with/);

  const dir = await Deno.makeTempDir({ prefix: "facgcnn-cuda-" });
  try {
    const cuda = await runCli("cli/train.ts", [
      "--data",
      "synthetic:20",
      "--out",
      `${dir}/run`,
      ...TINY.filter((a) => a !== "cpu" && a !== "--device"),
      "--device",
      "cuda",
    ]);
    if (cuda.code === 0) return; // a machine with a usable GPU
    const last = cuda.stderr.trim().split("\n").at(-1)!;
    // The reasons are on the error line itself, not only behind a debug variable.
    assert.match(last, /^error: CUDA unavailable: \S/);
    assert.match(last, /not found|insufficient|no CUDA device|failed/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--occupancy: the flag the partial-occupancy message suggests exists and works", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-occ-" });
  try {
    const data = `${dir}/data`;
    await Deno.mkdir(data);
    const ds = syntheticCrystals({ count: 12, seed: 9 });
    const rows: string[] = [];
    for (let i = 0; i < ds.length; i++) {
      const e = ds.get(i);
      await Deno.writeTextFile(
        `${data}/s${i}.cif`,
        structureToCif({ ...e.structure, id: `s${i}` }),
      );
      rows.push(`s${i},${e.target}`);
    }
    await Deno.writeTextFile(
      `${data}/mixed.cif`,
      "data_mixed\n_cell_length_a 4.1\n_cell_length_b 4.1\n_cell_length_c 4.1\n" +
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n" +
        "_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n" +
        "_atom_site_fract_z\n_atom_site_occupancy\nNa1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 0.7\n" +
        "Br1 Br 0.5 0.5 0.5 0.3\n",
    );
    rows.push("mixed,0.5");
    await Deno.writeTextFile(`${data}/id_prop.csv`, rows.join("\n") + "\n");
    const base = ["--data", data, ...TINY];
    const plain = await runCli("cli/train.ts", [...base, "--out", `${dir}/a`]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /- mixed: .*partial occupancy 0\.7 .*--occupancy majority/);
    const kept = await runCli("cli/train.ts", [
      ...base,
      "--out",
      `${dir}/b`,
      "--occupancy",
      "majority",
    ]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.doesNotMatch(kept.stderr, /skipped/);
    assert.equal((await Deno.readTextFile(`${dir}/b/skipped.csv`)).trim(), "id,stage,reason");
    const bad = await runCli("cli/train.ts", [...base, "--occupancy", "most"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--occupancy/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
