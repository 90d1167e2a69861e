/**
 * Train FACGCNN on a CSV file with a `cif` column (the CDVAE / MP-20 layout: `material_id`,
 * a target column, `cif`). Without `--csv`, or when the file does not exist yet, a small CSV
 * is first written from synthetic crystals with `structureToCif`, so the script runs as is.
 *
 *   deno run -A examples/train_csv.ts [--csv data.csv] [--count 300] [--epochs 4]
 *     [--atom-fea-len 32] [--device cpu|cuda|auto] [--out runs/csv-example]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formula, structureToCif, syntheticCrystals, train } from "../mod.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    csv: { type: "string" },
    count: { type: "string", default: Deno.env.get("EXAMPLE_COUNT") ?? "300" },
    epochs: { type: "string", default: Deno.env.get("EXAMPLE_EPOCHS") ?? "4" },
    "atom-fea-len": { type: "string", default: "32" },
    device: { type: "string", default: Deno.env.get("EXAMPLE_DEVICE") ?? "cpu" },
    out: { type: "string" },
  },
});

/** A CSV field, quoted when it holds a comma, quote or line break. */
function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const tmp = await Deno.makeTempDir({ prefix: "facgcnn-train-csv-" });
const csv = flags.csv ?? `${tmp}/synthetic.csv`;
let exists = true;
try {
  await Deno.stat(csv);
} catch {
  exists = false;
}
if (!exists) {
  const count = Number(flags.count);
  const data = syntheticCrystals({ count, seed: 11 });
  const rows = ["material_id,pretty_formula,formation_energy_per_atom,cif"];
  for (let i = 0; i < data.length; i++) {
    const { id, structure, target } = data.get(i);
    rows.push(
      [id, formula(structure), String(target), structureToCif(structure)].map(csvField).join(","),
    );
  }
  await Deno.writeTextFile(csv, rows.join("\n") + "\n");
  console.log(`wrote ${count} crystals to ${csv}`);
}

const run = await train({
  data: csv,
  target: "formation_energy_per_atom",
  model: "facgcnn",
  epochs: Number(flags.epochs),
  atomFeaLen: Number(flags["atom-fea-len"]),
  hFeaLen: 64,
  batchSize: 32,
  device: flags.device as "cpu" | "cuda" | "auto",
  out: flags.out ?? `${tmp}/run`,
  cacheDir: null,
});
const h = run.history;
console.log(`epochs: ${h.map((r) => r.valMae.toFixed(3)).join(" ")} (validation MAE)`);
console.log(
  `best epoch ${run.bestEpoch}; test MAE ${run.test?.mae.toFixed(4)} RMSE ${
    run.test?.rmse.toFixed(4)
  } R² ${run.test?.r2.toFixed(3)}`,
);
console.log(`run folder: ${run.out} (best.safetensors, metrics.csv, report.html)`);
run.model.dispose();
if (!flags.out && !flags.csv) await Deno.remove(tmp, { recursive: true });
