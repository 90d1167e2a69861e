/**
 * `deno task predict --checkpoint F --data D [--frames ...] [--rotate] [--out preds.csv]`:
 * predictions of a saved model for a data set, as CSV with a header row: `id,prediction`, or
 * `id,target,prediction` when the data has targets (then also the metrics, and a parity page
 * with `--report`). The data may be a folder of plain `.cif` files, one `.cif`, a CSV without a
 * target column or an HDF5 file without energies. No structure to predict is an error.
 * `--rotate` first applies a rigid random O(3) rotation of
 * every structure's coordinate system (the paper's rotation test: lattice and Cartesian
 * positions rotate, fractional coordinates stay); `--shift-origin` a random origin shift with
 * the atoms wrapped into the cell (the same crystal, another stored point cloud).
 *
 * The header differs on purpose from a run folder's `test_results.csv`, which keeps CGCNN's
 * own layout: `id,target,prediction` rows with no header.
 * @module
 */

import { loadDataset } from "../lib/data/dataset.ts";
import { Rng } from "../lib/util/random.ts";
import { randomlyRotateStructure, randomlyShiftOrigin } from "../lib/crystal/transform.ts";
import type { Dataset } from "../lib/crystal/types.ts";
import { fileProblem, writeTextAtomic } from "../lib/io/atomic.ts";
import { writeNpy } from "../lib/io/npy.ts";
import { featurize } from "../lib/data/featurize.ts";
import { skippedReport, writeSkippedCsv } from "../lib/data/skipped.ts";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import { profileReport } from "../lib/backend/profiler.ts";
import { classificationMetrics, regressionMetrics } from "../lib/train/metrics.ts";
import { DEVICE_CHOICES, TRAIN_DEFAULTS } from "../lib/train/config.ts";
import { parityPlot, targetQuantity, writeReport } from "../lib/train/report.ts";
import {
  applyVerbose,
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
  --data PATH|synthetic:N   structures to predict: a folder of .cif files (id = file name),
                            one .cif, a CGCNN folder, a CSV with a cif column, HDF5; targets
                            are optional
  --embeddings OUT.npy|OUT.csv   also write each crystal's embedding: the pooled vector of
                            length A before the head (frame-averaged), as a [C, A] float32 .npy
                            (rows in the CSV's order) or a CSV id,e0,…,e(A−1)
  --report FILE.html        parity plot of the predictions (needs targets; regression)
  --threshold T             classification model: targets become labels, 1 when target > T
                            (the label column then holds them); without it targets must be 0/1
  --unit UNIT               unit of the target on the report's axes (eV/atom for energies)
  --format, --target, --id-column, --positions, --occupancy, --limit   as for train
  --frames stochastic|all|none|K   frame mode (default: the model's)
  --rotate                  rigid random O(3) rotation of every structure's coordinate system
                            first (lattice and Cartesian positions; fractional unchanged)
  --shift-origin            random origin shift of every cell, atoms wrapped into it (same
                            crystal; moves PCA frames and w/o-FA coordinates)
  --seed N                  seed of --rotate, --shift-origin and stochastic frames (${TRAIN_DEFAULTS.seed})
  --batch-size ${TRAIN_DEFAULTS.evalBatchSize}  --device ${
  DEVICE_CHOICES.join("|")
}  --out preds.csv (default: stdout)

Output: CSV with a header row, id,prediction (id,target,prediction when the data has
targets). A run folder's test_results.csv instead keeps CGCNN's layout: no header.
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
      report: { type: "string" },
      embeddings: { type: "string" },
      verbose: { type: "boolean" },
      threshold: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (flags.help) return console.log(HELP);
    applyVerbose(flags.verbose);
    if (!flags.checkpoint) {
      throw new UsageError("--checkpoint is required (a .safetensors file written by train)");
    }
    if (!flags.data) throw new UsageError("--data is required");
    const data = dataConfig(flags);
    const frames = framesFlag(flags.frames);
    const seed = numberFlag("seed", flags.seed, { integer: true, min: 0 }) ?? TRAIN_DEFAULTS.seed;
    const batchSize = numberFlag("batch-size", flags["batch-size"], { integer: true, min: 1 });
    const device = choiceFlag("device", flags.device, DEVICE_CHOICES);

    if (flags.out) await checkOutputFolder(flags.out);
    const { model } = await loadCheckpoint(flags.checkpoint, { device });
    try {
      let dataset: Dataset = await loadDataset(data.data, {
        format: data.format,
        target: data.target,
        idColumn: data.idColumn,
        positions: data.positions,
        occupancy: data.occupancy,
        limit: data.limit,
        atomFeatures: model.atomFeatures,
        targets: "optional",
      });
      if (dataset.length === 0) {
        const why = dataset.skipped.slice(0, 3).map((s) => `; ${s.reason}`).join("");
        throw new Error(
          `no structures to predict in ${data.data}` +
            (dataset.skipped.length ? ` (${dataset.skipped.length} skipped${why})` : ""),
        );
      }
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
      // As in train: structures without a graph are skipped and reported, not fatal. Targets
      // play no part in a prediction: a placeholder stands in for a missing one.
      const given = new Map<string, number>();
      const source = dataset;
      const built = await featurize({
        length: source.length,
        skipped: source.skipped,
        source: source.source,
        get: (i: number) => {
          const e = source.get(i);
          given.set(e.id, e.target);
          return Number.isFinite(e.target) ? e : { ...e, target: 0 };
        },
      }, {
        radius: model.config.radius,
        maxNeighbors: model.config.maxNeighbors,
        neighborTies: model.config.neighborTies ?? "truncate",
        cacheDir: null,
        quiet: true,
      });
      const skipped = [
        ...dataset.skipped.map((s) => ({ ...s, stage: s.stage ?? ("load" as const) })),
        ...built.skipped.map((s) => ({ ...s, stage: "featurize" as const })),
      ];
      const skippedFile = flags.out ? `${flags.out.replace(/\.csv$/i, "")}.skipped.csv` : undefined;
      if (skippedFile) await writeSkippedCsv(skippedFile, skipped);
      for (const line of skippedReport(skipped, built.graphs.count + skipped.length, skippedFile)) {
        console.error(line);
      }
      if (built.graphs.count === 0) {
        throw new Error(`no structures to predict in ${data.data}: all ${skipped.length} skipped`);
      }
      const predictions = model.predictGraphs(built.graphs, { frames, batchSize });
      const ids: string[] = built.graphs.ids.slice();
      if (flags.embeddings) {
        const path = flags.embeddings;
        if (!/\.(npy|csv)$/i.test(path)) {
          throw new UsageError(`--embeddings must end in .npy or .csv, got "${path}"`);
        }
        model.reseedFrames(seed, 3); // the same frame draws as the predictions
        const emb = model.embedGraphs(built.graphs, { frames, batchSize });
        const A = model.config.atomFeaLen, n = built.graphs.count;
        if (path.toLowerCase().endsWith(".npy")) await writeNpy(path, emb, n, A);
        else {
          const lines = [["id", ...Array.from({ length: A }, (_, k) => `e${k}`)].join(",")];
          for (let i = 0; i < n; i++) {
            const row = Array.from(emb.subarray(i * A, (i + 1) * A), String);
            lines.push([csvField(ids[i]), ...row].join(","));
          }
          await writeTextAtomic(path, lines.join("\n") + "\n");
        }
        console.error(`embeddings [${n}, ${A}] → ${path}`);
      }
      const targets: number[] = ids.map((id) => given.get(id) ?? NaN);
      const classify = model.config.task === "classification";
      const threshold = numberFlag("threshold", flags.threshold);
      if (classify && threshold !== undefined) {
        for (let i = 0; i < targets.length; i++) {
          if (Number.isFinite(targets[i])) targets[i] = targets[i] > threshold ? 1 : 0;
        }
      }
      const withTargets = targets.some(Number.isFinite);
      const csv = predictionCsv(ids, withTargets ? targets : null, predictions);
      if (flags.out) await writeTextAtomic(flags.out, csv);
      else await Deno.stdout.write(new TextEncoder().encode(csv));
      const moved = how ? ` (${how})` : "";
      const dest = flags.out ? ` → ${flags.out}` : "";
      if (classify && targets.every((t) => t === 0 || t === 1)) {
        const k = classificationMetrics(targets, predictions);
        console.error(
          `${dataset.length} structures${moved}: P(class 1) predicted; accuracy ${
            k.accuracy.toFixed(3)
          }, precision ${k.precision.toFixed(3)}, recall ${k.recall.toFixed(3)}, F1 ${
            k.f1.toFixed(3)
          }, AUC ${k.auc.toFixed(3)}${dest}`,
        );
      } else if (classify) {
        console.error(
          `${dataset.length} structures${moved}: P(class 1) predicted${dest}` +
            (withTargets ? " (targets are not 0/1: give --threshold for metrics)" : ""),
        );
      } else if (targets.every(Number.isFinite)) {
        const m = regressionMetrics(targets, predictions);
        console.error(
          `${ids.length} structures${moved}: ` +
            `MAE ${m.mae.toFixed(4)}, RMSE ${m.rmse.toFixed(4)}, R² ${m.r2.toFixed(4)}${dest}`,
        );
      } else {
        const n = targets.filter(Number.isFinite).length;
        console.error(
          `${ids.length} structures${moved} predicted` +
            (n > 0 ? ` (${n} with a target; metrics need all)` : "") + dest,
        );
      }
      if (flags.report && classify) {
        throw new UsageError("--report draws a parity plot; a classification model has none");
      }
      if (flags.report) {
        if (!withTargets) {
          throw new UsageError(`--report draws predictions against targets; ${data.data} has none`);
        }
        const keep = targets.flatMap((t, i) => (Number.isFinite(t) ? [i] : []));
        const q = targetQuantity({ data: data.data, target: data.target, unit: data.unit });
        await writeReport(flags.report, [{
          title: "Predictions",
          figure: parityPlot(keep.map((i) => targets[i]), keep.map((i) => predictions[i]), {
            title: `${flags.checkpoint.split("/").slice(-2).join("/")} on ${
              data.data.split("/").pop()
            }${moved}`,
            quantity: q.name,
            unit: q.unit,
            ids: keep.map((i) => ids[i]),
          }),
        }], { title: `Predictions of ${flags.checkpoint} on ${data.data}` });
        console.error(`parity plot → ${flags.report}`);
      }
      // FACGCNN_PROFILE=1: the per-op table, on stderr (stdout may be the predictions CSV).
      const profile = profileReport(model.backend);
      if (profile) console.error(profile);
    } finally {
      model.dispose();
    }
  });
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The predictions as CSV with a header: `id,prediction`, or `id,target,prediction` when
 * `targets` is given (an empty cell where a structure has none).
 */
export function predictionCsv(
  ids: readonly string[],
  targets: readonly number[] | null,
  predictions: ArrayLike<number>,
): string {
  const rows = [targets ? "id,target,prediction" : "id,prediction"];
  for (let i = 0; i < ids.length; i++) {
    const t = targets ? (Number.isFinite(targets[i]) ? `${targets[i]},` : ",") : "";
    rows.push(`${csvField(ids[i])},${t}${predictions[i]}`);
  }
  return rows.join("\n") + "\n";
}

/** Fails before any work when the folder of `--out` does not exist or is not a folder. */
async function checkOutputFolder(out: string): Promise<void> {
  const cut = out.lastIndexOf("/");
  const dir = cut < 0 ? "." : cut === 0 ? "/" : out.slice(0, cut);
  try {
    if (!(await Deno.stat(dir)).isDirectory) {
      throw new UsageError(`--out ${out}: ${dir} is not a folder`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--out ${out}: cannot use the folder ${dir}: ${fileProblem(e)}`);
  }
}
