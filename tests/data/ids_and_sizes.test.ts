/**
 * One duplicate-id policy for every reader (the first usable structure is kept, later rows
 * are skipped with a reason naming where the kept one is), and synthetic:N sizes validated.
 */
import assert from "node:assert/strict";
import { DatasetError, loadDataset, MAX_SYNTHETIC_COUNT } from "../../lib/data/dataset.ts";

const CIF = (id: string, a = 5.64) =>
  `data_${id}\n_cell_length_a ${a}\n_cell_length_b ${a}\n_cell_length_c ${a}\n` +
  `_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n` +
  `_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n` +
  `Na 0 0 0\nCl 0.5 0.5 0.5\n`;

async function tempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ids_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("duplicate ids: CSV and CGCNN folder keep the first usable one and report the rest", async () => {
  await tempDir(async (dir) => {
    // CSV: "a" twice (second skipped), "b" first bad (flat cell) then good (kept).
    const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
    const csv = `${dir}/set.csv`;
    await Deno.writeTextFile(
      csv,
      "material_id,formation_energy_per_atom,cif\n" +
        `a,1,${q(CIF("a"))}\n` +
        `b,2,${q(CIF("b", 0))}\n` +
        `a,3,${q(CIF("a"))}\n` +
        `b,4,${q(CIF("b"))}\n`,
    );
    const ds = await loadDataset(csv, { quiet: true });
    assert.deepEqual(
      Array.from({ length: ds.length }, (_, i) => [ds.get(i).id, ds.get(i).target]),
      [["a", 1], ["b", 4]],
    );
    assert.deepEqual(ds.skipped.map((s) => s.id), ["b", "a"]);
    const text = await Deno.readTextFile(csv);
    const dupLine = text.slice(0, text.indexOf("\na,3,") + 1).split("\n").length;
    assert.equal(
      ds.skipped[1].reason,
      `${csv}:${dupLine}: duplicate id "a" (kept the first, line 2)`,
    );
    await assert.rejects(
      loadDataset(csv, { quiet: true, strict: true }),
      (e: Error) => e instanceof DatasetError && /cell length 0/.test(e.message),
    );

    // CGCNN folder: the same policy and wording.
    await Deno.writeTextFile(`${dir}/a.cif`, CIF("a"));
    await Deno.writeTextFile(`${dir}/id_prop.csv`, "a,1\nx,2\na,3\n");
    const folder = await loadDataset(dir, { quiet: true });
    assert.deepEqual(
      Array.from({ length: folder.length }, (_, i) => folder.get(i).id),
      ["a"],
    );
    const reasons = folder.skipped.map((s) => s.reason);
    assert.equal(reasons.length, 2);
    assert.match(reasons[0], /x\.cif not found/);
    assert.equal(reasons[1], `${dir}/id_prop.csv:3: duplicate id "a" (kept the first, line 1)`);
  });
});

Deno.test("synthetic:N: a size out of range is a clear error, not an array-length crash", async () => {
  for (const n of ["99999999999999999999", "0", String(MAX_SYNTHETIC_COUNT + 1)]) {
    await assert.rejects(
      loadDataset(`synthetic:${n}`, { quiet: true }),
      (e: Error) =>
        e instanceof DatasetError &&
        e.message ===
          `bad synthetic source "synthetic:${n}": the size ${n} must be between 1 and ${MAX_SYNTHETIC_COUNT}`,
    );
  }
  await assert.rejects(
    loadDataset("synthetic:10:99999999999999999999", { quiet: true }),
    /the seed 99999999999999999999 is not a safe integer/,
  );
  assert.equal((await loadDataset("synthetic:3:7", { quiet: true })).length, 3);
});
