/**
 * `deno task train`: trains CGCNN or FACGCNN (default: FACGCNN with stochastic frames on the
 * embedded synthetic data set) and writes a run folder. `--help` lists the flags.
 * @module
 */

import { Progress } from "../lib/train/progress.ts";
import { train } from "../lib/train/trainer.ts";
import { profileReport } from "../lib/backend/profiler.ts";
import {
  DATASET_FORMATS,
  DEFAULT_WEIGHT_DECAY,
  DEVICE_CHOICES,
  FACGCNN_PAPER_MODEL,
  FRAME_KINDS,
  MODEL_KINDS,
  NEIGHBOR_TIES,
  OPTIMIZER_KINDS,
  POSITION_KINDS,
  readRunConfig,
  TRAIN_DEFAULTS,
} from "../lib/train/config.ts";
import {
  applyVerbose,
  DATA_FLAGS,
  parseFlags,
  runMain,
  TRAIN_FLAGS,
  trainConfig,
  UsageError,
} from "./args.ts";
import { type Communicator, initDistributed } from "../lib/distributed/communicator.ts";
import { failRank } from "../lib/distributed/failure.ts";

const D = TRAIN_DEFAULTS, M = FACGCNN_PAPER_MODEL;
const HELP = `deno task train [flags]

Data:
  --data PATH|synthetic:N   training data: CGCNN folder, CSV with a cif column, HDF5, or
                            synthetic:N (default ${D.data})
  --val-data, --test-data   separate validation / test sets (else split from --data)
  --split ${D.split.join(",")}       train/val/test fractions of --data
  --format ${DATASET_FORMATS.join("|")}   --target COLUMN   --id-column COLUMN
  --atom-init FILE          CGCNN atom_init.json for CSV/HDF5/synthetic data (a CGCNN folder
                            uses its own)
  --unit UNIT               the target's unit on report axes (default eV/atom for energies)
  --positions ${POSITION_KINDS.join("|")} (HDF5)   --limit N   --no-cache
  --occupancy error|majority   CIF sites with occupancy < 1: skip the structure (error,
                            default) or keep the majority species at each site
  --neighbor-ties ${NEIGHBOR_TIES.join("|")}   tied 12th-neighbour shell: kept whole (default),
                            dropped, or cut as CGCNN does (depends on atom order)
Model:
  --model ${D.model}|${MODEL_KINDS.filter((k) => k !== D.model).join("|")}     ` +
  `--frames stochastic|all|none|K   --frame-kind ${M.frameKind}|${
    FRAME_KINDS.filter((k) => k !== M.frameKind).join("|")
  }
  --coord-scale LENGTH|rms  length unit (Å) of frame coordinates (${M.coordinates.scale}; 1 = raw Å)
  --node-coords on|off      atoms get their own frame coordinates (${
    M.coordinates.node ? "on" : "off"
  })
                            the paper's frames: --frame-kind pca --coord-scale 1 --node-coords on
  --atom-fea-len ${M.atomFeaLen}  --h-fea-len ${M.hFeaLen}  --n-conv ${M.nConv}  --n-h ${M.nH}
Training:
  --task regression|classification   two classes as CGCNN (NLL loss; predictions P(class 1))
  --threshold T             classification: class 1 is target > T (else targets must be 0/1)
  --lr-milestones 100,200   epochs where SGD/AdamW multiply the lr by 0.1 (MultiStepLR)
  --patience N              stop after N epochs without a better validation score
  --config RUN/config.json  start from a run's options (flags given here override them)
  --verbose                 the device line lists every CUDA library path tried
  --epochs ${D.epochs}  --batch-size ${D.batchSize} (default capped to a tenth of the training set, ≥ 32)  --lr ${D.lr.toExponential()}
  --optimizer ${OPTIMIZER_KINDS.join("|")}  --device ${DEVICE_CHOICES.join("|")}  --seed ${D.seed}
  --weight-decay W          default per optimizer: ${
    OPTIMIZER_KINDS.map((k) => `${k} ${DEFAULT_WEIGHT_DECAY[k]}`).join(", ")
  }
  --out DIR (runs/<timestamp>)  --resume (continue the run in --out; only --epochs,
                            --device, --no-cache, --quiet may differ from the saved run)
  --force                   start clean in an --out that holds a previous run (deletes its files)
  -q/--quiet
Cluster (data-parallel): mpirun -np P deno task train ...  (or srun); rank 0 prints and writes
  --shards P                reproduce a P-process run in one process (default: the process count)
`;

/**
 * Under `mpirun`/`srun` (data-parallel): rank 0 prints progress and results; the other ranks
 * print nothing but their own errors, prefixed with their rank, and a failing rank ends the
 * whole job (`MPI_Abort`) so that no rank waits forever.
 */
async function main(comm: Communicator): Promise<void> {
  const rank0 = comm.rank === 0;
  const flags = parseFlags(Deno.args, { ...DATA_FLAGS, ...TRAIN_FLAGS });
  applyVerbose(flags.verbose);
  if (flags.help) {
    if (rank0) console.log(HELP);
    return;
  }
  if (!rank0) Deno.env.set("FACGCNN_QUIET", "1"); // no device line from every rank
  // --config run/config.json: that run's options, with the flags given here on top (--data
  // only when given: otherwise the file's data, not the default synthetic set).
  const config = flags.config
    ? await readRunConfig(flags.config, { ...trainConfig(flags), data: flags.data })
    : trainConfig(flags);
  const progress = new Progress({ mode: flags.quiet || !rank0 ? "silent" : "auto" });
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
  if (!rank0) {
    result.model.dispose();
    return;
  }
  const t = result.test;
  const k = result.testClassification;
  if (k) {
    console.log(
      `best epoch ${result.bestEpoch}: test accuracy ${k.accuracy.toFixed(3)}, precision ${
        k.precision.toFixed(3)
      }, recall ${k.recall.toFixed(3)}, F1 ${k.f1.toFixed(3)}, AUC ${
        k.auc.toFixed(3)
      } (${k.n} crystals)`,
    );
  } else {console.log(
      `best epoch ${result.bestEpoch}: val MAE ${result.bestValMae.toFixed(4)} ` +
        `(mean predictor ${result.meanPredictorValMae.toFixed(4)})` +
        (t
          ? `; test MAE ${t.mae.toFixed(4)}, RMSE ${t.rmse.toFixed(4)}, R² ${
            t.r2.toFixed(3)
          } (${t.n} crystals)`
          : ""),
    );}
  console.log(
    `run folder: ${result.out} (report.html, metrics.csv, best.safetensors, test_results.csv)`,
  );
  const profile = profileReport(result.model.backend); // FACGCNN_PROFILE=1 only
  if (profile) console.log(profile);
  result.model.dispose();
}

if (import.meta.main) {
  await runMain(async () => {
    const comm = initDistributed();
    try {
      await main(comm);
    } catch (e) {
      if (comm.size > 1) failRank(comm, e, e instanceof UsageError ? 2 : 1);
      throw e;
    }
    comm.finalize();
  });
}
