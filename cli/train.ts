/**
 * `deno task train`: trains CGCNN or FACGCNN (default: FACGCNN with stochastic frames on the
 * embedded synthetic data set) and writes a run folder. `--help` lists the flags.
 * @module
 */

import { Progress } from "../lib/train/progress.ts";
import { train } from "../lib/train/trainer.ts";
import {
  DATASET_FORMATS,
  DEVICE_CHOICES,
  FACGCNN_PAPER_MODEL,
  FRAME_KINDS,
  MODEL_KINDS,
  NEIGHBOR_TIES,
  OPTIMIZER_KINDS,
  POSITION_KINDS,
  TRAIN_DEFAULTS,
} from "../lib/train/config.ts";
import { DATA_FLAGS, parseFlags, runMain, TRAIN_FLAGS, trainConfig } from "./args.ts";

const D = TRAIN_DEFAULTS, M = FACGCNN_PAPER_MODEL;
const HELP = `deno task train [flags]

Data:
  --data PATH|synthetic:N   training data: CGCNN folder, CSV with a cif column, HDF5, or
                            synthetic:N (default ${D.data})
  --val-data, --test-data   separate validation / test sets (else split from --data)
  --split ${D.split.join(",")}       train/val/test fractions of --data
  --format ${DATASET_FORMATS.join("|")}   --target COLUMN   --id-column COLUMN
  --positions ${POSITION_KINDS.join("|")} (HDF5)   --limit N   --no-cache
  --neighbor-ties ${NEIGHBOR_TIES.join("|")}   tied 12th-neighbour shell: kept whole (default),
                            dropped, or cut as CGCNN does (depends on atom order)
Model:
  --model ${D.model}|${MODEL_KINDS.filter((k) => k !== D.model).join("|")}     ` +
  `--frames stochastic|all|none|K   --frame-kind ${FRAME_KINDS.join("|")}
  --coord-scale 1|LENGTH|rms   divide frame coordinates by a length in Å (1 = raw Å, the paper)
  --node-coords on|off      feed atoms their frame coordinates (on, the paper)
  --atom-fea-len ${M.atomFeaLen}  --h-fea-len ${M.hFeaLen}  --n-conv ${M.nConv}  --n-h ${M.nH}
Training:
  --epochs ${D.epochs}  --batch-size ${D.batchSize} (capped to the data)  --lr ${D.lr.toExponential()}
  --optimizer ${OPTIMIZER_KINDS.join("|")}  --weight-decay 0  --device ${
    DEVICE_CHOICES.join("|")
  }  --seed ${D.seed}
  --out DIR (runs/<timestamp>)  --resume (continue the run in --out)  -q/--quiet
`;

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, { ...DATA_FLAGS, ...TRAIN_FLAGS });
    if (flags.help) {
      console.log(HELP);
      return;
    }
    const config = trainConfig(flags);
    const progress = new Progress({ mode: flags.quiet ? "silent" : "auto" });
    const result = await train(config, {
      onEpochStart: (epoch, epochs, batches) => progress.startEpoch(epoch, epochs, batches),
      onBatch: (e) => progress.update(e.batch, e.loss, e.crystals),
      onEpoch: (r, best) =>
        progress.endEpoch({
          "train loss": r.trainLoss.toFixed(4),
          "val MAE": r.valMae.toFixed(4),
          "val R²": r.valR2.toFixed(3),
          ...(best ? { best: "*" } : {}),
        }),
      log: (line) => progress.log(line),
    });
    progress.finish();
    const t = result.test;
    console.log(
      `best epoch ${result.bestEpoch}: val MAE ${result.bestValMae.toFixed(4)} ` +
        `(mean predictor ${result.meanPredictorValMae.toFixed(4)})` +
        (t
          ? `; test MAE ${t.mae.toFixed(4)}, RMSE ${t.rmse.toFixed(4)}, R² ${
            t.r2.toFixed(3)
          } (${t.n} crystals)`
          : ""),
    );
    console.log(
      `run folder: ${result.out} (report.html, metrics.csv, best.safetensors, test_results.csv)`,
    );
    result.model.dispose();
  });
}
