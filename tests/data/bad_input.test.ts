/**
 * Bad-input corpus: malformed inputs built from strings in a temp folder. Each case asserts
 * that the error or skip reason names the file, the line or structure id, and what is wrong.
 * Then: a load with some bad entries keeps the good ones and lists the bad; strict throws.
 */
import assert from "node:assert/strict";
import h5wasm from "h5wasm/node";
import { DatasetError, loadDataset } from "../../lib/data/dataset.ts";
import { featurize } from "../../lib/data/featurize.ts";
import { writeHdf5 } from "../../lib/data/readers/hdf5.ts";
import { CsvError } from "../../lib/data/readers/csv_parse.ts";
import type { SkippedEntry, Structure } from "../../lib/crystal/types.ts";

const CELL = [
  "_cell_length_a 5.64",
  "_cell_length_b 5.64",
  "_cell_length_c 5.64",
  "_cell_angle_alpha 90",
  "_cell_angle_beta 90",
  "_cell_angle_gamma 90",
].join("\n");
const LOOP = [
  "loop_",
  "_atom_site_label",
  "_atom_site_type_symbol",
  "_atom_site_fract_x",
  "_atom_site_fract_y",
  "_atom_site_fract_z",
  "_atom_site_occupancy",
].join("\n");
const GOOD_SITES = "Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1";

/** A CIF; `sites` are loop rows "label symbol x y z occ". */
function cif(id: string, sites = GOOD_SITES, cell = CELL): string {
  return `data_${id}\n${cell}\n${LOOP}\n${sites}\n`;
}

/** The line (1-based) of `needle` in `text`. */
function lineOf(text: string, needle: string): number {
  const k = text.indexOf(needle);
  assert.ok(k >= 0, `${needle} not in text`);
  return text.slice(0, k).split("\n").length;
}

async function tempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "bad_input_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A CGCNN folder with one structure `bad` (CIF text, or null for no file) and one good one. */
async function folderWith(dir: string, badCif: string | null, target = "1.5"): Promise<string> {
  if (badCif !== null) await Deno.writeTextFile(`${dir}/bad.cif`, badCif);
  await Deno.writeTextFile(`${dir}/good.cif`, cif("good"));
  await Deno.writeTextFile(`${dir}/id_prop.csv`, `good,0.25\nbad,${target}\n`);
  return dir;
}

/** Loads the folder; asserts the good structure is kept and returns the one skip reason. */
async function skipReason(dir: string): Promise<string> {
  const ds = await loadDataset(dir, { quiet: true });
  assert.equal(ds.length, 1, "the good structure is kept");
  assert.equal(ds.get(0).id, "good");
  assert.equal(ds.skipped.length, 1, JSON.stringify(ds.skipped));
  assert.equal(ds.skipped[0].id, "bad");
  return ds.skipped[0].reason;
}

const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));

// ------------------------------------------------------------ CIF problems (CGCNN folder)

Deno.test("bad 1: truncated CIF (loop cut mid-row)", async () => {
  await tempDir(async (dir) => {
    const text = cif("bad", "Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5");
    await folderWith(dir, text);
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif:`));
    assert.match(r, /structure "bad"/);
    assert.match(r, /not a multiple of 6.*truncated/);
  });
});

Deno.test("bad 2: missing cell parameter", async () => {
  await tempDir(async (dir) => {
    await folderWith(dir, cif("bad", GOOD_SITES, CELL.replace("_cell_length_c 5.64\n", "")));
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif:1: structure "bad"`));
    assert.match(r, /missing _cell_length_c/);
  });
});

Deno.test("bad 3: zero volume (zero cell length; degenerate angles)", async () => {
  await tempDir(async (dir) => {
    const text = cif("bad", GOOD_SITES, CELL.replace("_cell_length_b 5.64", "_cell_length_b 0"));
    await folderWith(dir, text);
    const r = await skipReason(dir);
    // The CIF parser reports the line of the cell block.
    assert.match(r, new RegExp(`${dir}/bad\\.cif:\\d+: structure "bad"`));
    assert.ok(lineOf(text, "_cell_length_b 0") > 0);
    assert.match(r, /cell length 0 is not positive/);
  });
  await tempDir(async (dir) => {
    await folderWith(dir, cif("bad", GOOD_SITES, CELL.replaceAll(" 90", " 170")));
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif:`));
    assert.match(r, /structure "bad"/);
    assert.match(r, /volume .* zero/);
  });
});

Deno.test("bad 4: NaN and unknown (?) coordinates", async () => {
  await tempDir(async (dir) => {
    const text = cif("bad", "Na1 Na 0 0 0 1\nCl1 Cl 0.5 nan 0.5 1");
    await folderWith(dir, text);
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif:${lineOf(text, "Cl1 Cl")}: structure "bad"`));
    assert.match(r, /fract_y "nan" is not a number/);
  });
  await tempDir(async (dir) => {
    await folderWith(dir, cif("bad", "Na1 Na 0 ? 0 1"));
    assert.match(await skipReason(dir), /fract_y is unknown/);
  });
});

Deno.test("bad 5: unknown element symbol", async () => {
  await tempDir(async (dir) => {
    const text = cif("bad", "Na1 Na 0 0 0 1\nXx1 Xx 0.5 0.5 0.5 1");
    await folderWith(dir, text);
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif:${lineOf(text, "Xx1")}: structure "bad"`));
    assert.match(r, /unknown element symbol "Xx"/);
  });
});

Deno.test("bad 6: partial occupancy (kept with occupancy: majority)", async () => {
  await tempDir(async (dir) => {
    const text = cif("bad", "Na1 Na 0 0 0 0.5\nK1 K 0 0 0 0.5\nCl1 Cl 0.5 0.5 0.5 1");
    await folderWith(dir, text);
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif:${lineOf(text, "Na1")}: structure "bad"`));
    assert.match(r, /partial occupancy 0\.5/);
    const ds = await loadDataset(dir, { quiet: true, occupancy: "majority" });
    assert.equal(ds.length, 2);
  });
});

Deno.test("bad 7: overlapping atoms", async () => {
  await tempDir(async (dir) => {
    // 0.01 in fractional = 0.056 Å apart: not a duplicate (> 1e-3) but far too close.
    await folderWith(dir, cif("bad", "Na1 Na 0 0 0 1\nCl1 Cl 0.01 0 0 1"));
    const r = await skipReason(dir);
    // Caught by the CIF parser (with its line) or by the loader's own check.
    assert.match(r, new RegExp(`${dir}/bad\\.cif(:\\d+)?: structure "bad"`));
    assert.match(r, /(Na|Na1).*(Cl|Cl1).* overlap: 0\.056 Å apart/);
  });
});

Deno.test("bad 8: empty CIF file, empty id_prop.csv, empty CSV", async () => {
  await tempDir(async (dir) => {
    await folderWith(dir, "");
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/bad.cif: structure "bad"`));
    assert.match(r, /empty file/);
  });
  await tempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/id_prop.csv`, "");
    await assert.rejects(
      loadDataset(dir, { quiet: true }),
      (e: Error) =>
        e instanceof DatasetError && e.message.includes(`${dir}/id_prop.csv: file is empty`),
    );
    await Deno.writeTextFile(`${dir}/x.csv`, "");
    await assert.rejects(
      loadDataset(`${dir}/x.csv`, { quiet: true }),
      re(`${dir}/x.csv: file is empty`),
    );
  });
});

Deno.test("bad 9: id_prop.csv names a missing CIF; duplicate id; non-numeric target", async () => {
  await tempDir(async (dir) => {
    await folderWith(dir, null);
    const r = await skipReason(dir);
    assert.match(r, re(`${dir}/id_prop.csv:2: structure "bad": CIF file ${dir}/bad.cif not found`));
  });
  await tempDir(async (dir) => {
    await folderWith(dir, cif("bad"), "high");
    const r = await skipReason(dir);
    assert.match(
      r,
      re(`${dir}/id_prop.csv:2: structure "bad": target "high" is not a finite number`),
    );
  });
  await tempDir(async (dir) => {
    await folderWith(dir, cif("bad"));
    await Deno.writeTextFile(`${dir}/id_prop.csv`, "good,1\nbad,2\ngood,3\n");
    const ds = await loadDataset(dir, { quiet: true });
    assert.equal(ds.length, 2);
    assert.match(ds.skipped[0].reason, re(`${dir}/id_prop.csv:3: duplicate id "good"`));
  });
});

Deno.test("bad 10: missing folder, missing id_prop.csv, missing file", async () => {
  await tempDir(async (dir) => {
    await assert.rejects(
      loadDataset(`${dir}/nope`, { quiet: true }),
      re(`data source not found: ${dir}/nope`),
    );
    await assert.rejects(
      loadDataset(dir, { quiet: true }),
      re(`CGCNN id_prop.csv not found: ${dir}/id_prop.csv`),
    );
    await assert.rejects(
      loadDataset(`${dir}/nope.csv`, { quiet: true, format: "csv" }),
      re(`CSV file not found: ${dir}/nope.csv`),
    );
  });
});

// ------------------------------------------------------------ CSV problems

const csvHeader = "material_id,formation_energy_per_atom,band_gap,cif";
const q = (s: string) => `"${s.replaceAll('"', '""')}"`;

Deno.test("bad 11: CSV without the target column lists the numeric columns", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/t.csv`;
    await Deno.writeTextFile(
      path,
      `material_id,band_gap,e_hull,cif\nmp-1,1.2,0.01,${q(cif("a"))}\n`,
    );
    await assert.rejects(
      loadDataset(path, { quiet: true }),
      (e: Error) =>
        e instanceof DatasetError && e.message.startsWith(`${path}: no target given`) &&
        /numeric columns are band_gap, e_hull/.test(e.message),
    );
    await assert.rejects(
      loadDataset(path, { quiet: true, target: "heat_ref" }),
      (e: Error) => e.message.includes(`${path}: target column "heat_ref" not found`),
    );
    const noCif = `${dir}/nocif.csv`;
    await Deno.writeTextFile(noCif, "material_id,formation_energy_per_atom\nmp-1,0.1\n");
    await assert.rejects(loadDataset(noCif, { quiet: true }), re(`${noCif}:1: no cif column`));
  });
});

Deno.test("bad 12: CSV non-numeric target and short row are skipped by line", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/t.csv`;
    const rows = [
      csvHeader,
      `mp-1,-0.5,1.0,${q(cif("a"))}`,
      `mp-2,n/a,1.0,${q(cif("b"))}`,
      `mp-3,0.1`,
      `mp-4,-1.25,0.0,${q(cif("d"))}`,
    ];
    const text = rows.join("\n") + "\n";
    await Deno.writeTextFile(path, text);
    const ds = await loadDataset(path, { quiet: true });
    assert.deepEqual([ds.get(0).id, ds.get(1).id], ["mp-1", "mp-4"]);
    assert.equal(ds.skipped.length, 2);
    const line2 = lineOf(text, "mp-2");
    assert.match(
      ds.skipped[0].reason,
      re(
        `${path}:${line2}: structure "mp-2": target formation_energy_per_atom "n/a" is not a finite number`,
      ),
    );
    assert.match(
      ds.skipped[1].reason,
      re(`${path}:${lineOf(text, "mp-3")}: row 3 (id "mp-3") has 2 fields`),
    );
  });
});

Deno.test("bad 13: CSV with an unterminated quote names the line it opened on", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/t.csv`;
    const text = `${csvHeader}\nmp-1,-0.5,1.0,${q(cif("a"))}\nmp-2,0.1,1.0,"${cif("b")}`;
    await Deno.writeTextFile(path, text);
    await assert.rejects(
      loadDataset(path, { quiet: true }),
      (e: Error) =>
        e instanceof CsvError && e.message.startsWith(`${path}:${lineOf(text, "mp-2")}: `) &&
        /unterminated quoted field/.test(e.message),
    );
  });
});

Deno.test("bad 14: bad CIF inside a CSV names the file line of the CIF problem", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/t.csv`;
    const bad = cif("b", "Na1 Na 0 0 0 1\nQq1 Qq 0.5 0.5 0.5 1");
    const text = `${csvHeader}\nmp-1,-0.5,1.0,${q(cif("a"))}\nmp-2,0.1,1.0,${q(bad)}\n`;
    await Deno.writeTextFile(path, text);
    const ds = await loadDataset(path, { quiet: true });
    assert.equal(ds.length, 1);
    assert.match(
      ds.skipped[0].reason,
      re(`${path}:${lineOf(text, "Qq1")}: structure "mp-2": unknown element symbol "Qq"`),
    );
  });
});

// ------------------------------------------------------------ HDF5 problems

const NACL: Structure = {
  id: "nacl",
  lattice: new Float64Array([5.64, 0, 0, 0, 5.64, 0, 0, 0, 5.64]),
  frac: new Float64Array([0, 0, 0, 0.5, 0.5, 0.5]),
  numbers: new Int32Array([11, 17]),
};

function variant(change: Partial<Structure>): Structure {
  return { ...NACL, ...change };
}

Deno.test("bad 15: HDF5 with missing datasets names them", async () => {
  await h5wasm.ready;
  await tempDir(async (dir) => {
    const path = `${dir}/m.h5`;
    const f = new h5wasm.File(path, "w");
    const s = f.create_group("structures");
    s.create_dataset({ name: "natoms", data: new Int32Array([2]), dtype: "<i" });
    s.create_dataset({ name: "energy_pa", data: new Float32Array([1]), dtype: "<f" });
    f.close();
    await assert.rejects(
      loadDataset(path, { quiet: true, positions: "cartesian" }),
      (e: Error) =>
        e instanceof DatasetError &&
        e.message ===
          `${path}: missing HDF5 dataset(s) structures/cell, structures/atoms_ptr, atoms/positions, atoms/atomic_number`,
    );
    await writeHdf5(path, [{ structure: NACL, target: 1 }]);
    await assert.rejects(
      loadDataset(path, { quiet: true, positions: "cartesian", target: "band_gap" }),
      re(`${path}: missing HDF5 dataset(s) structures/band_gap; datasets under structures/: `),
    );
    await Deno.writeTextFile(`${dir}/fake.h5`, "not hdf5 at all");
    await assert.rejects(
      loadDataset(`${dir}/fake.h5`, { quiet: true, positions: "cartesian" }),
      re(`${dir}/fake.h5: not an HDF5 file`),
    );
  });
});

Deno.test("bad 16: HDF5 positions mode missing or implausible", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/p.h5`;
    const entries = [0, 1, 2].map((k) => ({ structure: variant({ id: `s${k}` }), target: k }));
    await writeHdf5(path, entries, { positions: "cartesian" });
    await assert.rejects(
      loadDataset(path, { quiet: true }),
      (e: Error) =>
        e.message.startsWith(`${path}: say whether atoms/positions are Cartesian or fractional`) &&
        e.message.includes('positions: "cartesian"') &&
        e.message.includes('positions: "fractional"'),
    );
    // Cartesian values (up to 2.82 Å)… but NaCl's are inside [-0.5, 1.5]? No: 2.82 > 1.5.
    await assert.rejects(
      loadDataset(path, { quiet: true, positions: "fractional" }),
      re(`${path}: positions look Cartesian: 3 of 3 structures`),
    );
    await writeHdf5(path, entries, { positions: "fractional" });
    await assert.rejects(
      loadDataset(path, { quiet: true, positions: "cartesian" }),
      re(`${path}: positions look fractional: in 3 of 3 structures`),
    );
    assert.equal((await loadDataset(path, { quiet: true, positions: "fractional" })).length, 3);
  });
});

Deno.test("bad 17: HDF5 per-structure problems are skipped by index", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/s.h5`;
    const entries = [
      { structure: NACL, target: 0.5 },
      // negative volume: a left-handed cell (c = -c)
      {
        structure: variant({ lattice: new Float64Array([5.64, 0, 0, 0, 5.64, 0, 0, 0, -5.64]) }),
        target: 1,
      },
      // NaN coordinate
      { structure: variant({ frac: new Float64Array([0, 0, 0, 0.5, NaN, 0.5]) }), target: 1 },
      // unknown element (Z = 0) and an element without atom features (Z = 101, Md)
      { structure: variant({ numbers: new Int32Array([11, 0]) }), target: 1 },
      { structure: variant({ numbers: new Int32Array([11, 101]) }), target: 1 },
      // non-finite target
      { structure: NACL, target: NaN },
      // overlapping atoms
      { structure: variant({ frac: new Float64Array([0, 0, 0, 0.02, 0, 0]) }), target: 1 },
      // zero volume
      {
        structure: variant({ lattice: new Float64Array([5.64, 0, 0, 5.64, 0, 0, 0, 0, 5.64]) }),
        target: 1,
      },
      { structure: NACL, target: -0.5 },
    ];
    await writeHdf5(path, entries, { positions: "fractional" });
    const seen: SkippedEntry[] = [];
    const ds = await loadDataset(path, {
      quiet: true,
      positions: "fractional",
      onSkip: (e) => seen.push(e),
    });
    assert.deepEqual(Array.from({ length: ds.length }, (_, i) => ds.get(i).id), ["0", "8"]);
    assert.deepEqual(seen, ds.skipped);
    const reasons = Object.fromEntries(ds.skipped.map((s) => [s.id, s.reason]));
    const at = (i: number) => `${path}: structure ${i}: `;
    assert.match(reasons["1"], re(at(1) + "cell volume is negative"));
    assert.match(reasons["2"], re(at(2) + "atom 2 (Cl) has a non-finite coordinate (NaN)"));
    assert.match(reasons["3"], re(at(3) + "atom 2 has an unknown element (atomic number 0"));
    assert.match(reasons["4"], re(at(4) + "atom 2 is Md (Z = 101), which has no atom features"));
    assert.match(reasons["5"], re(at(5) + "target energy_pa is not a finite number (NaN)"));
    assert.match(reasons["6"], re(at(6) + "atoms 1 (Na) and 2 (Cl) overlap"));
    assert.match(reasons["7"], re(at(7) + "cell volume is zero"));
  });
});

// ------------------------------------------------------------ featurization problems

Deno.test("bad 18: isolated atom beyond the radius is skipped by featurize", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/iso.h5`;
    const lone = variant({
      lattice: new Float64Array([20, 0, 0, 0, 20, 0, 0, 0, 20]),
      frac: new Float64Array([0, 0, 0]),
      numbers: new Int32Array([26]),
    });
    await writeHdf5(path, [{ structure: NACL, target: 1 }, { structure: lone, target: 2 }], {
      positions: "fractional",
    });
    const ds = await loadDataset(path, { quiet: true, positions: "fractional" });
    assert.equal(ds.length, 2, "the loader accepts it: isolation depends on the radius");
    const { graphs, skipped } = await featurize(ds, { cacheDir: null });
    assert.equal(graphs.count, 1);
    assert.deepEqual(graphs.ids, ["0"]);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0].reason, re(`${path}: structure "1": no graph: `));
    assert.match(skipped[0].reason, /neighbou?r/i);
    // A larger radius reaches the periodic images (20 Å away).
    const wide = await featurize(ds, { cacheDir: null, radius: 21 });
    assert.equal(wide.graphs.count, 2);
  });
});

// ------------------------------------------------------------ skip vs strict

Deno.test("a load with bad entries keeps the rest, lists them, prints a summary; strict throws", async () => {
  await tempDir(async (dir) => {
    const goods = ["g1", "g2", "g3"];
    for (const g of goods) await Deno.writeTextFile(`${dir}/${g}.cif`, cif(g));
    await Deno.writeTextFile(`${dir}/b1.cif`, cif("b1", "Na1 Na 0 0 0 0.3"));
    await Deno.writeTextFile(`${dir}/b2.cif`, "data_b2\n_cell_length_a 5\n");
    await Deno.writeTextFile(
      `${dir}/id_prop.csv`,
      ["g1,1", "b1,2", "g2,3", "b2,4", "missing,5", "g3,6"].join("\n"),
    );
    const printed: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => printed.push(args.join(" "));
    let ds;
    try {
      ds = await loadDataset(dir);
    } finally {
      console.error = original;
    }
    assert.equal(printed.length, 1);
    assert.match(printed[0], re(`loaded 3 structures from ${dir}, skipped 3: `));
    assert.match(printed[0], /b1\.cif:\d+: structure "b1"/);
    assert.deepEqual(Array.from({ length: ds.length }, (_, i) => ds.get(i).id), goods);
    assert.deepEqual(Array.from({ length: ds.length }, (_, i) => ds.get(i).target), [1, 3, 6]);
    assert.deepEqual(ds.skipped.map((s) => s.id), ["b1", "b2", "missing"]);
    for (const s of ds.skipped) assert.ok(s.reason.includes(dir), s.reason);

    await assert.rejects(
      loadDataset(dir, { quiet: true, strict: true }),
      (e: Error) =>
        e instanceof DatasetError && e.id === "b1" &&
        /b1\.cif:\d+: structure "b1": .*partial occupancy/.test(e.message) &&
        /strict mode/.test(e.message),
    );
  });
});
