import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import { latticeParameters } from "../../lib/crystal/lattice.ts";
import { elementSymbol } from "../../lib/crystal/symbols.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import type { DatasetEntry, Structure } from "../../lib/crystal/types.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { train } from "../../lib/train/trainer.ts";
import { QUIET, runCli, tempDir, tinyConfig } from "./_helpers.ts";

/** A P1 CIF of a structure (cell parameters + fractional coordinates). */
function toCif(s: Structure): string {
  const p = latticeParameters(s.lattice);
  const lines = [
    `data_${s.id}`,
    `_symmetry_space_group_name_H-M   'P 1'`,
    `_cell_length_a   ${p.a.toFixed(8)}`,
    `_cell_length_b   ${p.b.toFixed(8)}`,
    `_cell_length_c   ${p.c.toFixed(8)}`,
    `_cell_angle_alpha   ${p.alpha.toFixed(8)}`,
    `_cell_angle_beta   ${p.beta.toFixed(8)}`,
    `_cell_angle_gamma   ${p.gamma.toFixed(8)}`,
    `_symmetry_Int_Tables_number   1`,
    `loop_`,
    ` _symmetry_equiv_pos_site_id`,
    ` _symmetry_equiv_pos_as_xyz`,
    `  1  'x, y, z'`,
    `loop_`,
    ` _atom_site_type_symbol`,
    ` _atom_site_label`,
    ` _atom_site_occupancy`,
    ` _atom_site_fract_x`,
    ` _atom_site_fract_y`,
    ` _atom_site_fract_z`,
  ];
  for (let i = 0; i < s.numbers.length; i++) {
    const el = elementSymbol(s.numbers[i]);
    const f = [0, 1, 2].map((k) => s.frac[3 * i + k].toFixed(8));
    lines.push(`  ${el}  ${el}${i}  1  ${f.join("  ")}`);
  }
  return lines.join("\n") + "\n";
}

/** CDVAE's CSV layout: a pandas index column, material_id, targets, cif (quoted). */
function cdvaeCsv(entries: DatasetEntry[]): string {
  const rows = [",material_id,formation_energy_per_atom,heat_ref,pretty_formula,cif"];
  entries.forEach((e, i) => {
    const cif = `"${toCif(e.structure).replaceAll('"', '""')}"`;
    // heat_ref (the chosen target) differs from formation_energy_per_atom on purpose.
    rows.push([i, `mp-${e.id}`, (-e.target).toString(), e.target, "X", cif].join(","));
  });
  return rows.join("\n") + "\n";
}

function synthetic(count: number, seed: number): DatasetEntry[] {
  const ds = syntheticCrystals({ count, seed });
  return Array.from({ length: count }, (_, i) => ds.get(i));
}

Deno.test("data formats: the CIF formatter of this test round-trips through the CSV reader", async () => {
  const [dir, cleanup] = await tempDir("cif-roundtrip");
  try {
    const entries = synthetic(5, 11);
    await Deno.writeTextFile(`${dir}/x.csv`, cdvaeCsv(entries));
    const ds = await loadDataset(`${dir}/x.csv`, { target: "heat_ref", quiet: true });
    assert.equal(ds.length, 5);
    for (let i = 0; i < 5; i++) {
      const e = ds.get(i), o = entries[i];
      assert.equal(e.id, `mp-${o.id}`);
      assert.equal(e.target, o.target);
      assert.deepEqual([...e.structure.numbers], [...o.structure.numbers]);
      e.structure.frac.forEach((v, k) => {
        const d = Math.abs(v - o.structure.frac[k]);
        assert.ok(Math.min(d, 1 - d) < 1e-7, `frac ${k}`);
      });
      const pa = latticeParameters(e.structure.lattice),
        pb = latticeParameters(o.structure.lattice);
      for (const k of ["a", "b", "c", "alpha", "beta", "gamma"] as const) {
        assert.ok(Math.abs(pa[k] - pb[k]) < 1e-6, k);
      }
    }
  } finally {
    await cleanup();
  }
});

Deno.test("data formats: a CSV-with-CIF set in the CDVAE layout trains end to end (CLI)", async () => {
  const [dir, cleanup] = await tempDir("cdvae");
  try {
    const all = synthetic(44, 12);
    const parts = { train: all.slice(0, 32), val: all.slice(32, 38), test: all.slice(38) };
    for (const [name, entries] of Object.entries(parts)) {
      await Deno.writeTextFile(`${dir}/${name}.csv`, cdvaeCsv(entries));
    }
    const out = `${dir}/run`;
    const r = await runCli("cli/train.ts", [
      "--data",
      `${dir}/train.csv`,
      "--val-data",
      `${dir}/val.csv`,
      "--test-data",
      `${dir}/test.csv`,
      "--target",
      "heat_ref",
      "--no-cache",
      "--atom-fea-len",
      "8",
      "--h-fea-len",
      "16",
      "--n-conv",
      "1",
      "--epochs",
      "2",
      "--batch-size",
      "8",
      "--device",
      "cpu",
      "--out",
      out,
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /best epoch [12]: val MAE/);
    const s = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
    assert.deepEqual(s.data, { train: 32, val: 6, test: 6, skipped: 0 });
    assert.equal(s.epochs, 2);
    assert.ok(Number.isFinite(s.test.mae));
    const rows = (await Deno.readTextFile(`${out}/test_results.csv`)).trim().split("\n");
    assert.deepEqual(
      rows.map((l) => l.split(",").slice(0, 2).join(",")),
      parts.test.map((e) => `mp-${e.id},${e.target}`),
      "test ids and heat_ref targets, in file order",
    );
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.equal(config.target, "heat_ref");
    assert.equal(config.valData, `${dir}/val.csv`);
  } finally {
    await cleanup();
  }
});

async function writeCgcnnFolder(dir: string, entries: DatasetEntry[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const rows: string[] = [];
  for (const e of entries) {
    await Deno.writeTextFile(`${dir}/${e.id}.cif`, toCif(e.structure));
    rows.push(`${e.id},${e.target}`);
  }
  await Deno.writeTextFile(`${dir}/id_prop.csv`, rows.join("\n") + "\n");
}

Deno.test("data formats: a CGCNN folder trains end to end (synthetic structures)", async () => {
  const [dir, cleanup] = await tempDir("cgcnn-dir");
  try {
    const entries = synthetic(40, 13);
    await writeCgcnnFolder(`${dir}/data`, entries);
    const out = `${dir}/run`;
    const r = await train(
      tinyConfig(out, { data: `${dir}/data`, model: "cgcnn", epochs: 2, batchSize: 8 }),
      QUIET,
    );
    try {
      assert.deepEqual([r.data.train.count, r.data.val.count, r.data.test.count], [32, 4, 4]);
      const ids = new Set(entries.map((e) => e.id));
      assert.ok(r.data.test.ids.every((id) => ids.has(id)));
      assert.ok(r.test && Number.isFinite(r.test.mae));
      const target = new Map(entries.map((e) => [e.id, e.target]));
      r.data.test.ids.forEach((id, i) => assert.equal(r.data.test.targets[i], target.get(id)));
    } finally {
      r.model.dispose();
    }
  } finally {
    await cleanup();
  }
});

const SAMPLE = "/work/shared/reference/cgcnn-sample";
const haveSample = await Deno.stat(`${SAMPLE}/id_prop.csv`).then(() => true, () => false);

Deno.test({
  name: "data formats: CGCNN's sample folder (real CIFs, own atom_init.json) trains end to end",
  ignore: !haveSample, // the shared reference copy is not in every checkout
  fn: async () => {
    const [dir, cleanup] = await tempDir("cgcnn-sample");
    try {
      const out = `${dir}/run`;
      const r = await train(
        tinyConfig(out, {
          data: SAMPLE,
          model: "facgcnn",
          split: [0.6, 0.2, 0.2],
          epochs: 2,
          batchSize: 3,
        }),
        QUIET,
      );
      try {
        const s = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
        assert.equal(s.data.train + s.data.val + s.data.test + s.data.skipped, 10);
        assert.ok(s.data.test >= 1);
        const table = r.data.atomFeatures!;
        assert.ok(table.source.includes("atom_init.json"), table.source);
        // The best checkpoint carries the folder's atom table and predicts the test set again.
        const { model } = await loadCheckpoint(`${out}/best.safetensors`, {
          backend: cpuBackend(),
        });
        try {
          assert.match(model.atomFeatures.source, /saved atom table/);
          assert.equal(model.atomFeatures.length, table.length);
          assert.deepEqual(model.atomFeatures.rows, table.rows);
          const p = model.predictGraphs(r.data.test, { frames: "all" });
          assert.deepEqual(p, r.model.predictGraphs(r.data.test, { frames: "all" }));
        } finally {
          model.dispose();
        }
        const lines = (await Deno.readTextFile(`${out}/test_results.csv`)).trim().split("\n");
        assert.equal(lines.length, s.data.test);
      } finally {
        r.model.dispose();
      }
    } finally {
      await cleanup();
    }
  },
});
