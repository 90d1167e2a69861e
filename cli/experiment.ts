/**
 * `deno task experiment --data ... [--val-data ... --test-data ...] --seeds 5 --epochs 100,200,300`:
 * the paper's Tables 1 and 2 (see `lib/train/experiment.ts`); writes `results.md`,
 * `results.json` and `results.html` into `--out`.
 * @module
 */

import { EXPERIMENT_DEFAULTS, EXPERIMENT_VARIANTS } from "../lib/train/config.ts";
import { type ExperimentVariant, runExperiment } from "../lib/train/experiment.ts";
import { Progress } from "../lib/train/progress.ts";
import {
  applyVerbose,
  DATA_FLAGS,
  listFlag,
  numberFlag,
  parseFlags,
  runMain,
  TRAIN_FLAGS,
  trainConfig,
  UsageError,
} from "./args.ts";

const E = EXPERIMENT_DEFAULTS;
const HELP = `deno task experiment [flags]

  --seeds ${E.seeds}                 seeds per variant (mean ± standard error over them)
  --epochs ${E.epochsList.join(",")}      epoch budgets (one run of the largest serves all)
  --variants ${E.variants.join(",")}
  --out DIR                 (runs/experiment-<timestamp>)
  and every data/model/training flag of \`deno task train\` (--data, --val-data, --test-data,
  --split, --batch-size, --lr, --atom-fea-len, --device, ...)
`;

if (import.meta.main) {
  await runMain(async () => {
    const flags = parseFlags(Deno.args, {
      ...DATA_FLAGS,
      ...TRAIN_FLAGS,
      seeds: { type: "string" },
      variants: { type: "string" },
    });
    if (flags.help) return console.log(HELP);
    applyVerbose(flags.verbose);
    if (flags.resume) throw new UsageError("--resume is not supported by experiment");
    const epochsList = listFlag("epochs", flags.epochs);
    if (epochsList && epochsList.some((e) => !Number.isInteger(e) || e < 1)) {
      throw new UsageError(`--epochs must be positive integers, got "${flags.epochs}"`);
    }
    const variants = flags.variants?.split(",").map((v) => v.trim()) as
      | ExperimentVariant[]
      | undefined;
    for (const v of variants ?? []) {
      if (!EXPERIMENT_VARIANTS.includes(v)) {
        throw new UsageError(
          `--variants must be a list of ${EXPERIMENT_VARIANTS.join(", ")}; got "${v}"`,
        );
      }
    }
    const config = trainConfig({ ...flags, epochs: undefined });
    const progress = new Progress({ mode: flags.quiet ? "silent" : "auto" });
    const result = await runExperiment({
      ...config,
      seeds: numberFlag("seeds", flags.seeds, { integer: true, min: 1 }),
      epochsList,
      variants,
    }, {
      onEpochStart: (epoch, epochs, batches) => progress.startEpoch(epoch, epochs, batches),
      onBatch: (e) => progress.update(e.batch, e.loss, e.crystals),
      onEpoch: (r) => progress.endEpoch({ "val MAE": r.valMae.toFixed(4) }),
      log: (line) => progress.log(line),
    });
    progress.finish();
    console.log(await Deno.readTextFile(`${result.out}/results.md`));
    console.log(`results: ${result.out}/results.md, results.json, results.html`);
  });
}
