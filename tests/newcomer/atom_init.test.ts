/**
 * `--atom-init` gives CSV and HDF5 data (not only CGCNN folders) a CGCNN `atom_init.json`: the
 * model's atom table comes from it, and a structure with an element it lacks is skipped.
 */

import assert from "node:assert/strict";
import { structureToCif } from "../../lib/crystal/cif_write.ts";
import { writeHdf5 } from "../../lib/data/readers/hdf5.ts";
import { syntheticCrystals } from "../../lib/data/synthetic.ts";
import { train } from "../../lib/train/trainer.ts";

Deno.test("--atom-init for CSV and HDF5 data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-atom-init-" });
  try {
    const data = syntheticCrystals({ count: 40, seed: 21 });
    const entries = Array.from({ length: data.length }, (_, i) => data.get(i));
    // Features (length 4) for every element but the first structure's first one.
    const missing = entries[0].structure.numbers[0];
    const table: Record<string, number[]> = {};
    for (const e of entries) {
      for (const z of e.structure.numbers) {
        if (z !== missing) table[String(z)] = [z % 2, z % 3, (z % 5) / 5, 1];
      }
    }
    await Deno.writeTextFile(`${dir}/atom_init.json`, JSON.stringify(table));
    const lacking = entries.filter((e) => Array.from(e.structure.numbers).includes(missing)).length;

    const csv = [
      "material_id,cif,formation_energy_per_atom",
      ...entries.map((e) => `${e.id},"${structureToCif(e.structure)}",${e.target}`),
    ];
    await Deno.writeTextFile(`${dir}/data.csv`, csv.join("\n") + "\n");
    await writeHdf5(`${dir}/data.h5`, entries);

    for (
      const [source, extra] of [["data.csv", {}], ["data.h5", { positions: "cartesian" }]] as const
    ) {
      const run = await train({
        data: `${dir}/${source}`,
        ...extra,
        atomInit: `${dir}/atom_init.json`,
        epochs: 1,
        atomFeaLen: 8,
        hFeaLen: 8,
        nConv: 1,
        device: "cpu",
        cacheDir: null,
        out: `${dir}/run-${source}`,
        quiet: true,
      }, { log: () => {} });
      try {
        assert.equal(run.model.atomFeatures.length, 4, source);
        assert.equal(run.data.train.count + run.data.val.count + run.data.test.count, 40 - lacking);
        assert.ok(
          run.data.skipped.some((s) =>
            s.reason.includes(`Z = ${missing}`) || s.reason.includes(`${missing}`)
          ),
          `${source}: skipped structures name the element`,
        );
      } finally {
        run.model.dispose();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
