/**
 * Data-set readers: the CGCNN sample folder (read in place from /work/shared when present),
 * CSV-with-CIF round trips through the streaming RFC-4180 parser, HDF5 round trips written
 * with h5wasm, and loadDataset's format detection.
 */
import assert from "node:assert/strict";
import { CsvParser, parseCsv, readCsvFile } from "../../lib/data/readers/csv_parse.ts";
import { readCgcnnDir } from "../../lib/data/readers/cgcnn_dir.ts";
import { readCsvCif } from "../../lib/data/readers/csv_cif.ts";
import { readHdf5, writeHdf5 } from "../../lib/data/readers/hdf5.ts";
import { detectFormat, loadDataset, summaryLine } from "../../lib/data/dataset.ts";
import { parseCif } from "../../lib/crystal/cif.ts";
import type { Dataset, Structure } from "../../lib/crystal/types.ts";

const SAMPLE = "/work/shared/reference/cgcnn-sample";
const hasSample = await Deno.stat(`${SAMPLE}/id_prop.csv`).then(() => true, () => false);

/** A small CIF (P1) text for cell parameters and fractional sites. */
function cifText(
  id: string,
  cell: [number, number, number, number, number, number],
  sites: [string, number, number, number][],
): string {
  const [a, b, c, al, be, ga] = cell;
  const rows = sites.map(([el, x, y, z], k) => `${el}${k + 1} ${el} ${x} ${y} ${z} 1.0`);
  return [
    `data_${id}`,
    `_cell_length_a ${a}`,
    `_cell_length_b ${b}`,
    `_cell_length_c ${c}`,
    `_cell_angle_alpha ${al}`,
    `_cell_angle_beta ${be}`,
    `_cell_angle_gamma ${ga}`,
    `_symmetry_space_group_name_H-M 'P 1'`,
    "loop_",
    "_symmetry_equiv_pos_as_xyz",
    "  'x, y, z'",
    "loop_",
    "_atom_site_label",
    "_atom_site_type_symbol",
    "_atom_site_fract_x",
    "_atom_site_fract_y",
    "_atom_site_fract_z",
    "_atom_site_occupancy",
    ...rows,
    "",
  ].join("\n");
}

/** A few varied crystals (cubic, hexagonal, triclinic) with deterministic pseudo-random sites. */
function sampleCifs(count: number): { id: string; cif: string; e: number; h: number }[] {
  const out = [];
  const els = ["Na", "Cl", "Mg", "O", "Si", "Fe", "Ti", "Ba"];
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < count; i++) {
    const kind = i % 3;
    const a = 4 + 2 * rnd();
    const cell: [number, number, number, number, number, number] = kind === 0
      ? [a, a, a, 90, 90, 90]
      : kind === 1
      ? [a, a, a * 1.6, 90, 90, 120]
      : [a, a * 1.1, a * 1.2, 80 + 5 * rnd(), 95 + 5 * rnd(), 100 + 5 * rnd()];
    // Sites on a coarse jittered grid so that no two atoms overlap.
    const nAtoms = 1 + (i % 4);
    const grid = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0.25], [0, 0.5, 0.75]];
    const sites = grid.slice(0, nAtoms).map(([x, y, z], k) =>
      [
        els[(i + k) % els.length],
        +(x + 0.05 * rnd()).toFixed(5),
        +(y + 0.05 * rnd()).toFixed(5),
        +(z + 0.05 * rnd()).toFixed(5),
      ] as [string, number, number, number]
    );
    out.push({
      id: `mp-${1000 + i}`,
      cif: cifText(`s${i}`, cell, sites),
      e: +(-2 * rnd()).toFixed(6),
      h: +(rnd()).toFixed(6),
    });
  }
  return out;
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function assertSameStructure(got: Structure, want: Structure, tol = 1e-12) {
  assert.deepEqual(Array.from(got.numbers), Array.from(want.numbers));
  assert.equal(got.frac.length, want.frac.length);
  for (let k = 0; k < 9; k++) assert.ok(Math.abs(got.lattice[k] - want.lattice[k]) <= tol * 10);
  for (let k = 0; k < want.frac.length; k++) {
    const d = got.frac[k] - want.frac[k];
    assert.ok(Math.abs(d - Math.round(d)) <= tol, `frac[${k}] ${got.frac[k]} vs ${want.frac[k]}`);
  }
}

async function tempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "readers_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------- CSV parser

Deno.test('CSV parser: quoted multi-line fields, "" escapes, CRLF, BOM, line numbers', () => {
  const text = '\ufeffa,b,c\r\n1,"x\r\ny ""q""",3\r\n\r\n"",,"z"\n4,5,6';
  const recs = parseCsv(text, "t.csv");
  assert.deepEqual(recs.map((r) => r.fields), [
    ["a", "b", "c"],
    ["1", 'x\r\ny "q"', "3"],
    ["", "", "z"],
    ["4", "5", "6"],
  ]);
  assert.deepEqual(recs.map((r) => r.line), [1, 2, 5, 6]);
});

Deno.test("CSV parser: any chunking gives the same records", () => {
  const rows = sampleCifs(6);
  const text = "material_id,cif,formation_energy_per_atom\r\n" +
    rows.map((r) => `${r.id},${csvCell(r.cif.replace("'P 1'", '"P 1"'))},${r.e}`).join("\r\n");
  const whole = parseCsv(text);
  for (const size of [1, 2, 3, 7, 64, 1000]) {
    const p = new CsvParser("chunks");
    const got = [];
    for (let i = 0; i < text.length; i += size) got.push(...p.push(text.slice(i, i + size)));
    got.push(...p.finish());
    assert.deepEqual(got, whole, `chunk size ${size}`);
  }
  assert.equal(whole.length, 7);
  assert.ok(whole[1].fields[1].includes('"P 1"'));
});

Deno.test("CSV file reader streams a file larger than its 1 MB buffer", async () => {
  await tempDir(async (dir) => {
    const cif = sampleCifs(1)[0].cif;
    const lines = ["id,cif"];
    for (let i = 0; i < 4000; i++) lines.push(`${i},${csvCell(cif)}`);
    const text = lines.join("\n");
    assert.ok(text.length > 1.5e6);
    await Deno.writeTextFile(`${dir}/big.csv`, text);
    let n = 0, lastLine = 0;
    for await (const r of readCsvFile(`${dir}/big.csv`)) {
      if (n > 0) assert.equal(r.fields[1], cif);
      lastLine = r.line;
      n++;
    }
    assert.equal(n, 4001);
    assert.equal(lastLine, 1 + 3999 * cif.split("\n").length + 1);
  });
});

// ---------------------------------------------------------------- CGCNN folder

Deno.test({
  name: "CGCNN sample folder: 10 structures with the ids and targets of id_prop.csv",
  ignore: !hasSample,
  fn: async () => {
    const rows = (await Deno.readTextFile(`${SAMPLE}/id_prop.csv`)).trim().split(/\r?\n/)
      .map((l) => l.split(","));
    const ds = await readCgcnnDir(SAMPLE);
    assert.equal(ds.length, rows.length);
    assert.equal(ds.length, 10);
    assert.deepEqual(ds.skipped, []);
    for (let i = 0; i < ds.length; i++) {
      const e = ds.get(i);
      assert.equal(e.id, rows[i][0].trim());
      assert.equal(e.target, Number(rows[i][1]));
      assert.equal(e.structure.id, e.id);
      const direct = parseCif(await Deno.readTextFile(`${SAMPLE}/${e.id}.cif`), { id: e.id });
      assertSameStructure(e.structure, direct);
    }
    // NaCl (COD 1000041) conventional cell: 8 atoms, 4 Na + 4 Cl.
    const nacl = ds.get(rows.findIndex((r) => r[0] === "1000041"));
    assert.equal(nacl.structure.numbers.length, 8);
    assert.equal(nacl.structure.numbers.filter((z) => z === 11).length, 4);
    assert.ok(ds.atomFeatures !== undefined, "the folder's atom_init.json is returned");
    assert.equal(ds.atomFeatures.length, 92);
    assert.ok(ds.atomFeatures.has(100));
  },
});

Deno.test("CGCNN folder: header line tolerated only when clearly non-numeric; limit", async () => {
  await tempDir(async (dir) => {
    const rows = sampleCifs(5);
    for (const r of rows) await Deno.writeTextFile(`${dir}/${r.id}.cif`, r.cif);
    await Deno.writeTextFile(
      `${dir}/id_prop.csv`,
      "material_id,formation_energy\n" + rows.map((r) => `${r.id},${r.e}`).join("\n") + "\n",
    );
    const ds = await readCgcnnDir(dir);
    assert.equal(ds.length, 5);
    assert.deepEqual(ds.skipped, []);
    assert.equal(ds.atomFeatures, undefined);
    assert.deepEqual(
      Array.from({ length: 5 }, (_, i) => [ds.get(i).id, ds.get(i).target]),
      rows.map((r) => [r.id, r.e]),
    );
    const two = await readCgcnnDir(dir, { limit: 2 });
    assert.equal(two.length, 2);
    // "nan" in the first row is a bad target, not a header.
    await Deno.writeTextFile(
      `${dir}/id_prop.csv`,
      rows.map((r, i) => `${r.id},${i === 0 ? "nan" : r.e}`).join("\n"),
    );
    const ds2 = await readCgcnnDir(dir);
    assert.equal(ds2.length, 4);
    assert.equal(ds2.skipped.length, 1);
    assert.match(ds2.skipped[0].reason, /id_prop\.csv:1: structure "mp-1000": target "nan"/);
  });
});

// ---------------------------------------------------------------- CSV with CIF

Deno.test("CSV-with-CIF round trip (CDVAE layout: unnamed index, quoted CIFs)", async () => {
  await tempDir(async (dir) => {
    const rows = sampleCifs(12);
    const header = ",material_id,formation_energy_per_atom,heat_ref,pretty_formula,cif";
    const body = rows.map((r, i) =>
      [i, r.id, r.e, r.h, csvCell(`X"${i}"`), csvCell(r.cif)].join(",")
    );
    const path = `${dir}/train.csv`;
    await Deno.writeTextFile(path, [header, ...body].join("\r\n") + "\r\n");
    const ds = await readCsvCif(path);
    assert.equal(ds.length, rows.length);
    assert.equal(ds.target, "formation_energy_per_atom");
    for (let i = 0; i < rows.length; i++) {
      const e = ds.get(i);
      assert.equal(e.id, rows[i].id);
      assert.equal(e.target, rows[i].e);
      assertSameStructure(e.structure, parseCif(rows[i].cif, { id: rows[i].id }));
    }
    const heat = await readCsvCif(path, { target: "heat_ref", limit: 3 });
    assert.equal(heat.length, 3);
    assert.deepEqual([0, 1, 2].map((i) => heat.get(i).target), rows.slice(0, 3).map((r) => r.h));
    // No id column: ids are 1-based data row numbers.
    const noId = `${dir}/noid.csv`;
    await Deno.writeTextFile(
      noId,
      "energy_per_atom,cif\n" + rows.slice(0, 3).map((r) => `${r.e},${csvCell(r.cif)}`).join("\n"),
    );
    const ds3 = await readCsvCif(noId, { target: "energy_per_atom" });
    assert.deepEqual([0, 1, 2].map((i) => ds3.get(i).id), ["1", "2", "3"]);
  });
});

// ---------------------------------------------------------------- HDF5

async function csvDataset(dir: string, n: number): Promise<Dataset> {
  const rows = sampleCifs(n);
  await Deno.writeTextFile(
    `${dir}/src.csv`,
    "material_id,formation_energy_per_atom,cif\n" +
      rows.map((r) => `${r.id},${r.e},${csvCell(r.cif)}`).join("\n"),
  );
  return await readCsvCif(`${dir}/src.csv`);
}

for (const mode of ["cartesian", "fractional"] as const) {
  Deno.test(`HDF5 round trip, ${mode} positions`, async () => {
    await tempDir(async (dir) => {
      const src = await csvDataset(dir, 9);
      const entries = Array.from({ length: src.length }, (_, i) => src.get(i));
      const path = `${dir}/set.h5`;
      await writeHdf5(path, entries, { positions: mode });
      const ds = await readHdf5(path, { positions: mode });
      assert.equal(ds.length, src.length);
      assert.deepEqual(ds.skipped, []);
      for (let i = 0; i < ds.length; i++) {
        const e = ds.get(i);
        assert.equal(e.id, String(i));
        assert.ok(Math.abs(e.target - entries[i].target) < 1e-6);
        // float32 storage: about 1e-6 relative.
        assertSameStructure(e.structure, entries[i].structure, 2e-5);
      }
      // loadDataset picks the format from the extension; another target by option.
      const via = await loadDataset(path, { positions: mode, quiet: true, limit: 4 });
      assert.equal(via.length, 4);
    });
  });
}

Deno.test("HDF5: another target dataset and CSR atoms_ptr [n + 1]", async () => {
  const h5wasm = (await import("h5wasm/node")).default;
  await h5wasm.ready;
  await tempDir(async (dir) => {
    const path = `${dir}/csr.h5`;
    const f = new h5wasm.File(path, "w");
    const s = f.create_group("structures");
    // Two rock-salt-like cells of 2 atoms each, fractional positions.
    s.create_dataset({
      name: "cell",
      data: new Float32Array([4, 0, 0, 0, 4, 0, 0, 0, 4, 5, 0, 0, 0, 5, 0, 0, 0, 5]),
      shape: [2, 3, 3],
      dtype: "<f",
    });
    s.create_dataset({ name: "natoms", data: new Int32Array([2, 2]), dtype: "<i" });
    s.create_dataset({ name: "band_gap", data: new Float32Array([1.5, 2.5]), dtype: "<f" });
    s.create_dataset({ name: "atoms_ptr", data: new BigInt64Array([0n, 2n, 4n]), dtype: "<q" });
    const a = f.create_group("atoms");
    a.create_dataset({
      name: "positions",
      data: new Float32Array([0, 0, 0, 0.5, 0.5, 0.5, 0, 0, 0, 0.5, 0.5, 0.5]),
      shape: [4, 3],
      dtype: "<f",
    });
    a.create_dataset({ name: "atomic_number", data: new Uint8Array([11, 17, 12, 8]), dtype: "|B" });
    f.close();
    const ds = await readHdf5(path, { positions: "fractional", target: "band_gap" });
    assert.equal(ds.length, 2);
    assert.deepEqual([ds.get(0).target, ds.get(1).target], [1.5, 2.5]);
    assert.deepEqual(Array.from(ds.get(1).structure.numbers), [12, 8]);
    assert.equal(ds.get(1).structure.lattice[0], 5);
  });
});

// ---------------------------------------------------------------- loadDataset

Deno.test("loadDataset detects formats and reports a summary", async () => {
  await tempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.csv`, "x");
    await Deno.writeTextFile(`${dir}/a.h5`, "x");
    await Deno.writeTextFile(`${dir}/a.txt`, "x");
    assert.equal(await detectFormat(dir), "cgcnn");
    assert.equal(await detectFormat(`${dir}/a.csv`), "csv");
    assert.equal(await detectFormat(`${dir}/a.h5`), "hdf5");
    assert.equal(await detectFormat("synthetic:10"), "synthetic");
    await assert.rejects(detectFormat(`${dir}/a.txt`), /cannot tell the format/);
    await assert.rejects(detectFormat(`${dir}/nope`), /data source not found: .*nope/);
  });
  assert.equal(summaryLine("x.csv", 5, []), "loaded 5 structures from x.csv");
  const line = summaryLine("x.csv", 998, [{ id: "a", reason: "x.csv:3: bad" }, {
    id: "b",
    reason: "x.csv:9: worse",
  }]);
  assert.match(line, /^loaded 998 structures from x\.csv, skipped 2: /);
  assert.match(line, /x\.csv:3: bad/);
});

Deno.test("loadDataset synthetic:N[:seed] is deterministic", async () => {
  const a = await loadDataset("synthetic:12:7", { quiet: true });
  const b = await loadDataset("synthetic:12:7", { quiet: true });
  assert.equal(a.length, 12);
  assert.equal(a.source, "synthetic:12:7");
  for (let i = 0; i < a.length; i++) {
    assertSameStructure(a.get(i).structure, b.get(i).structure, 0);
    assert.equal(a.get(i).target, b.get(i).target);
  }
  const lim = await loadDataset("synthetic:12:7", { quiet: true, limit: 5 });
  assert.equal(lim.length, 5);
});
