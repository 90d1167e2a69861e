/**
 * `deno task predict --checkpoint F --data D [--frames ...] [--rotate] [--out preds.csv]`:
 * predictions of a saved model for a data set, as CSV (id, target, prediction), with test
 * metrics when the data has targets. `--rotate` first applies a rigid random O(3) rotation of
 * every structure's coordinate system (the paper's rotation test: lattice and Cartesian
 * positions rotate, fractional coordinates stay); `--shift-origin` a random origin shift with
 * the atoms wrapped into the cell (the same crystal, another stored point cloud).
 * @module
 */

import { loadDataset } from "../lib/data/dataset.ts";
import { Rng } from "../lib/util/random.ts";
import { randomlyRotateStructure, randomlyShiftOrigin } from "../lib/crystal/transform.ts";
import type { Dataset } from "../lib/crystal/types.ts";
import { writeTextAtomic } from "../lib/io/atomic.ts";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import { regressionMetrics } from "../lib/train/metrics.ts";
import { DEVICE_CHOICES, TRAIN_DEFAULTS } from "../lib/train/config.ts";
import {
  choiceFlag,
  DATA_FLAGS,
  dataConfig,
  framesFlag,
  numberFlag,
  parseFlags,
  runMain,
  UsageError,
} from "./args.ts";

const HELP = `deno task predict --checkpoint FILE --data PATH [flags]

  --checkpoint FILE         a best.safetensors / last.safetensors written by train
  --data PATH|synthetic:N   structures to predict (CGCNN folder, CSV with cif column, HDF5)
  --format, --target, --id-column, --positions, --limit   as for train
  --frames stochastic|all|none|K   frame mode (default: the model's)
  --rotate                  rigid random O(3) rotation of every structure's coordinate system
                            first (lattice and Cartesian positions; fractional unchanged)
  --shift-origin            random origin shift of every cell, atoms wrapped into it (same
                            crystal; moves PCA frames and w/o-FA coordinates)
  --seed N                  seed of --rotate, --shift-origin and stochastic frames (${TRAIN_DEFAULTS.seed})
  --batch-size ${TRAIN_DEFAULTS.evalBatchSize}  --device ${
  DEVICE_CHOICES.join("|")
}  --out preds.csv (default: stdout)
`;

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, {
      ...DATA_FLAGS,
      checkpoint: { type: "string" },
      frames: { type: "string" },
      rotate: { type: "boolean" },
      "shift-origin": { type: "boolean" },
      seed: { type: "string" },
      "batch-size": { type: "string" },
      device: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (flags.help) return console.log(HELP);
    if (!flags.checkpoint) {
      throw new UsageError("--checkpoint is required (a .safetensors file written by train)");
    }
    if (!flags.data) throw new UsageError("--data is required");
    const data = dataConfig(flags);
    const frames = framesFlag(flags.frames);
    const seed = numberFlag("seed", flags.seed, { integer: true, min: 0 }) ?? TRAIN_DEFAULTS.seed;
    const batchSize = numberFlag("batch-size", flags["batch-size"], { integer: true, min: 1 });
    const device = choiceFlag("device", flags.device, DEVICE_CHOICES);

    const { model } = await loadCheckpoint(flags.checkpoint, { device });
    try {
      let dataset: Dataset = await loadDataset(data.data, {
        format: data.format,
        target: data.target,
        idColumn: data.idColumn,
        positions: data.positions,
        limit: data.limit,
        atomFeatures: model.atomFeatures,
      });
      if (flags.rotate || flags["shift-origin"]) {
        const rotations = new Rng(seed, 31), shifts = new Rng(seed, 32);
        const base = dataset;
        const moved = Array.from({ length: base.length }, (_, i) => {
          const e = base.get(i);
          let s = e.structure;
          if (flags.rotate) s = randomlyRotateStructure(s, rotations);
          if (flags["shift-origin"]) s = randomlyShiftOrigin(s, shifts);
          return { ...e, structure: s };
        });
        dataset = { length: moved.length, skipped: base.skipped, get: (i) => moved[i] };
      }
      const how = [
        flags.rotate ? "randomly rotated" : "",
        flags["shift-origin"] ? "origin shifted" : "",
      ]
        .filter(Boolean).join(", ");
      model.reseedFrames(seed, 3);
      const predictions = await model.predict(dataset, { frames, batchSize });
      const rows: string[] = ["id,target,prediction"];
      const targets: number[] = [];
      for (let i = 0; i < dataset.length; i++) {
        const e = dataset.get(i);
        targets.push(e.target);
        rows.push(
          `${/[",\n]/.test(e.id) ? `"${e.id.replaceAll('"', '""')}"` : e.id},${e.target},${
            predictions[i]
          }`,
        );
      }
      const csv = rows.join("\n") + "\n";
      if (flags.out) await writeTextAtomic(flags.out, csv);
      else await Deno.stdout.write(new TextEncoder().encode(csv));
      if (targets.every(Number.isFinite)) {
        const m = regressionMetrics(targets, predictions);
        console.error(
          `${dataset.length} structures${how ? ` (${how})` : ""}: ` +
            `MAE ${m.mae.toFixed(4)}, RMSE ${m.rmse.toFixed(4)}, R² ${m.r2.toFixed(4)}` +
            (flags.out ? ` → ${flags.out}` : ""),
        );
      }
    } finally {
      model.dispose();
    }
  });
}
